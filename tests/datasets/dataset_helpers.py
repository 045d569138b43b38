"""Helpers for dataset-version tests: tiny JPEG samples, remote and cache listings, leak checks."""

from __future__ import annotations

import hashlib
import os
import tarfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from cvops.datasets import DatasetRepo
from cvops.datasets.layout import dvc_out_md5, read_dir_object

S3_BUCKET = "cvops-datasets"
S3_SECRET = "cvops-test-secret-7f3a9c"


def write_jpeg(path: Path, seed: int) -> None:
    """A 16x12 noise JPEG: distinct per seed, identical for the same seed (same bytes, same md5)."""
    pixels = np.random.default_rng(seed).integers(0, 256, size=(12, 16, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format="JPEG", quality=90)


@dataclass
class SampleFactory:
    """Writes samples into a sample cache and builds the ``samples`` and ``labels`` frames an export takes."""

    cache: Path

    def path(self, match_id: str, frame: int) -> Path:
        return self.cache / match_id / f"{frame:06d}.jpg"

    def frames(
        self,
        matches: Mapping[str, Sequence[int]],
        *,
        val: Sequence[str] = (),
        groups: Mapping[str, str] | None = None,
        boxes_per_frame: int = 2,
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        samples, labels = [], []
        for match_id, frames in matches.items():
            for frame in frames:
                path = self.path(match_id, frame)
                if not path.exists():
                    write_jpeg(path, seed=zlib.crc32(f"{match_id}/{frame}".encode()))
                samples.append(
                    {
                        "match_id": match_id,
                        "frame": frame,
                        "split": "val" if match_id in val else "train",
                        "group_key": (groups or {}).get(match_id, "north|lions|bears"),
                        "source_path": str(path),
                    }
                )
                for track in range(1, boxes_per_frame + 1):
                    role = "ball" if track == boxes_per_frame and boxes_per_frame > 1 else "player"
                    labels.append(
                        {"match_id": match_id, "frame": frame, "track_id": track, "role": role,
                         "x": 1.0 + track, "y": 2.0, "w": 3.0, "h": 4.0}
                    )  # fmt: skip
        return pd.DataFrame(samples), pd.DataFrame(labels)


def remote_objects(remote: Path) -> set[str]:
    """md5 (with ``.dir`` for folder listings) of every object in a local DVC remote."""
    root = remote / "files" / "md5"
    if not root.is_dir():
        return set()
    return {f"{prefix.name}{obj.name}" for prefix in root.iterdir() for obj in prefix.iterdir()}


def shard_members(remote: Path) -> dict[str, int]:
    """md5 of every image held by a shard on a local DVC remote -> in how many members across all shards."""
    counts: dict[str, int] = {}
    root = remote / "files" / "md5"
    for obj in root.glob("*/*") if root.is_dir() else []:
        if not tarfile.is_tarfile(obj):
            continue
        with tarfile.open(obj) as tar:
            for member in tar.getmembers():
                md5 = hashlib.md5(tar.extractfile(member).read()).hexdigest()
                counts[md5] = counts.get(md5, 0) + 1
    return counts


def cache_objects(repo_dir: Path) -> set[str]:
    return remote_objects(repo_dir / ".dvc" / "cache")


def version_objects(repo: DatasetRepo, rev: str) -> set[str]:
    """Every DVC object a version references: each .dvc output and, for folders, the files listed in it."""
    objects = set()
    for name in repo.git("ls-tree", "-r", "--name-only", rev).split():
        if name.endswith(".dvc"):
            md5 = dvc_out_md5(repo.git("show", f"{rev}:{name}"))
            objects.add(md5)
            if md5.endswith(".dir"):
                objects |= set(read_dir_object(repo.cache_dir, md5, what=name).values())
    return objects


EXPORT_ARGS = {"config": {"policy": "oldest", "budget": 100}, "code_commit": "0123abc", "sources": {"labels": "v7"}}


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    bucket: str


def s3_keys(server: S3Server) -> list[str]:
    import boto3

    client = boto3.client("s3", endpoint_url=server.endpoint_url, region_name="us-east-1")
    keys = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=server.bucket):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys


def tree_text(root: Path, skip: Sequence[str] = (".dvc/cache", ".git/objects")) -> str:
    """Every small text file under ``root`` concatenated (to look for leaked secrets)."""
    chunks = []
    for dirpath, _dirnames, filenames in os.walk(root):
        relative = Path(dirpath).relative_to(root).as_posix()
        if any(relative.startswith(prefix) for prefix in skip):
            continue
        for name in filenames:
            path = Path(dirpath) / name
            if path.stat().st_size < 1_000_000:
                chunks.append(path.read_bytes().decode("utf-8", errors="replace"))
    return "\n".join(chunks)
