"""The files of a dataset version: names, columns and how to read them back.

This layout is the contract with the training stage::

    manifest.parquet                     one row per sample: match_id, frame, split, group_key, md5, path, n_boxes
    labels/train.parquet, val.parquet    match_id, frame, track_id, role, x, y, w, h
    images/<match_id>/<frame:06d>.jpg    manifest.path is relative to the repository root
    annotations/instances_train.json, instances_val.json   COCO-style
    export.yaml                          config, code commit, source versions, version number

DVC tracks one folder per match (``images/<match_id>.dvc``), so a new version re-hashes only the matches that
changed; a sample object is still stored once on the remote whatever the number of versions that hold it.
``manifest.parquet``, ``labels/`` and ``annotations/`` are DVC-tracked too; ``export.yaml`` and the ``.dvc``
files are in git.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from cvops.errors import CvopsError

MANIFEST = "manifest.parquet"
LABELS_DIR = "labels"
ANNOTATIONS_DIR = "annotations"
IMAGES_DIR = "images"
EXPORT_YAML = "export.yaml"
SPLITS = ("train", "val")
METADATA_TARGETS = (MANIFEST, LABELS_DIR, ANNOTATIONS_DIR)

MANIFEST_COLUMNS = ("match_id", "frame", "split", "group_key", "md5", "path", "n_boxes")
LABEL_COLUMNS = ("match_id", "frame", "track_id", "role", "x", "y", "w", "h")
DATASET_SAMPLE_COLUMNS = ("version", "match_id", "frame", "split", "md5", "path")

MANIFEST_SCHEMA = pa.schema(
    [
        ("match_id", pa.string()),
        ("frame", pa.int64()),
        ("split", pa.string()),
        ("group_key", pa.string()),
        ("md5", pa.string()),
        ("path", pa.string()),
        ("n_boxes", pa.int64()),
    ]
)
LABEL_SCHEMA = pa.schema(
    [
        ("match_id", pa.string()),
        ("frame", pa.int64()),
        ("track_id", pa.int64()),
        ("role", pa.string()),
        ("x", pa.float64()),
        ("y", pa.float64()),
        ("w", pa.float64()),
        ("h", pa.float64()),
    ]
)

SPLIT_LABEL_SCHEMA = LABEL_SCHEMA.append(pa.field("split", pa.string()))


def image_relpath(match_id: str, frame: int) -> str:
    return f"{IMAGES_DIR}/{match_id}/{int(frame):06d}.jpg"


def image_name(frame: int) -> str:
    return f"{int(frame):06d}.jpg"


def match_dvc_file(match_id: str) -> str:
    return f"{IMAGES_DIR}/{match_id}.dvc"


def labels_file(split: str) -> str:
    return f"{LABELS_DIR}/{split}.parquet"


def annotations_file(split: str) -> str:
    return f"{ANNOTATIONS_DIR}/instances_{split}.json"


def dvc_file_for(target: str) -> str:
    return f"{target}.dvc"


def tag_for(version: int) -> str:
    return f"dataset/v{version}"


def md5_file(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "md5").hexdigest()


def dvc_out_md5(dvc_file_text: str) -> str:
    """The hash a ``.dvc`` file records for its single output (``<md5>.dir`` for a folder)."""
    outs = (yaml.safe_load(dvc_file_text) or {}).get("outs") or []
    if len(outs) != 1 or "md5" not in outs[0]:
        raise CvopsError(f"unexpected .dvc file content (expected one output with an md5): {dvc_file_text[:200]!r}")
    return str(outs[0]["md5"])


def cache_object(cache_dir: Path, md5: str) -> Path:
    """Where DVC 3 keeps an object in a cache (documented layout: ``files/md5/<2 hex>/<rest>``)."""
    return cache_dir / "files" / "md5" / md5[:2] / md5[2:]


def read_cache_object(cache_dir: Path, md5: str, *, what: str) -> bytes:
    path = cache_object(cache_dir, md5)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CvopsError(
            f"{what} (object {md5}) is not in the DVC cache {cache_dir}: run `dvc fetch` in the repository"
        ) from None


def read_dir_object(cache_dir: Path, dir_md5: str, *, what: str) -> dict[str, str]:
    """relpath -> md5 of the files of a DVC-tracked folder, from its ``.dir`` object (a JSON list)."""
    entries = json.loads(read_cache_object(cache_dir, dir_md5, what=what))
    return {entry["relpath"]: entry["md5"] for entry in entries}


def read_parquet_bytes(data: bytes) -> pd.DataFrame:
    return pq.read_table(io.BytesIO(data)).to_pandas()


def table_from_frame(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """``frame``'s columns of ``schema``, cast to it (the canonical form files are written and compared in)."""
    return pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False).replace_schema_metadata()


def verify_files(root: str | Path) -> int:
    """Check a checked-out version against its manifest: every image present with its md5, no extra image.

    Returns the number of images checked; raises :class:`CvopsError` listing the first problems otherwise.
    A trainer calls this once after :func:`~cvops.datasets.versions.checkout_version` to be sure the data is
    exactly the version it names.
    """
    root = Path(root)
    manifest = pd.read_parquet(root / MANIFEST)
    problems = []
    for path, md5 in zip(manifest["path"], manifest["md5"], strict=True):
        file = root / path
        if not file.is_file():
            problems.append(f"{path}: missing")
        elif md5_file(file) != md5:
            problems.append(f"{path}: md5 differs from the manifest")
    expected = set(manifest["path"])
    images = root / IMAGES_DIR
    match_folders = [entry for entry in images.iterdir() if entry.is_dir()] if images.is_dir() else []
    for folder in match_folders:
        for dirpath, _dirnames, filenames in os.walk(folder):
            for name in filenames:
                relpath = (Path(dirpath) / name).relative_to(root).as_posix()
                if relpath not in expected:
                    problems.append(f"{relpath}: not in the manifest")
    if problems:
        shown = "; ".join(problems[:10])
        raise CvopsError(f"{root}: {len(problems)} file(s) do not match {MANIFEST}: {shown}")
    return len(manifest)
