"""Reading a dataset version, in either layout, from a folder or straight from a repository's DVC cache.

- :func:`open_folder` reads a checked-out version (``checkout_version``, a ``git clone`` + ``dvc pull``, or
  what ``cvops dataset files`` wrote);
- :func:`open_version` reads a tagged version from the dataset repository itself: its tree from git, its data
  from the DVC cache, with no checkout (what ``cvops dataset files`` and ``version_samples`` use).

Both give a :class:`VersionData`: the manifest, the labels and an :class:`ImageReader` that returns a sample's
JPEG bytes by row, whatever the layout (``shards``: one ``pread`` in a shard; ``files``: one file per sample).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from cvops.datasets.layout import (
    EXPORT_YAML,
    IMAGES_DIR,
    LABEL_COLUMNS,
    LAYOUT_FILES,
    LAYOUT_SHARDS,
    MANIFEST,
    MATCHES_DIR,
    PART_LABELS,
    PART_SAMPLE_SCHEMA,
    PART_SAMPLES,
    SPLITS,
    cache_object,
    dvc_out_md5,
    labels_file,
    read_dir_object,
)
from cvops.datasets.repo import DatasetRepo
from cvops.datasets.shards import ShardReader
from cvops.errors import CvopsError


def read_parts(paths: Sequence[Path], schema: pa.Schema | None = None) -> pa.Table:
    """The per-match Parquet parts ``paths`` as one table (read in parallel by Arrow)."""
    if not paths:
        return schema.empty_table() if schema is not None else pa.table({})
    dataset = pq.ParquetDataset([str(path) for path in paths], schema=schema)
    return dataset.read()


class ImageReader:
    """JPEG bytes of the rows of a manifest, by position. Picklable, for DataLoader workers."""

    def __init__(self, paths: np.ndarray, offsets: np.ndarray | None, sizes: np.ndarray | None) -> None:
        self._paths = paths
        self._offsets = offsets
        self._sizes = sizes
        self._shards = ShardReader()

    def __len__(self) -> int:
        return len(self._paths)

    @property
    def sharded(self) -> bool:
        return self._offsets is not None

    def read(self, index: int) -> bytes:
        path = self._paths[index]
        if self._offsets is None or self._sizes is None:
            try:
                return Path(path).read_bytes()
            except FileNotFoundError:
                raise CvopsError(f"sample image {path} is missing (pull the dataset version's data first)") from None
        return self._shards.read(path, int(self._offsets[index]), int(self._sizes[index]))

    def missing(self) -> list[str]:
        """Files (shards or images) that are absent or shorter than the index says: empty when all are there."""
        if self._offsets is None or self._sizes is None:
            return [str(path) for path in self._paths if not Path(path).is_file()]
        ends = pd.DataFrame({"path": self._paths, "end": self._offsets + self._sizes}).groupby("path")["end"].max()
        problems = []
        for path, end in ends.items():
            file = Path(path)
            if not file.is_file() or file.stat().st_size < end:
                problems.append(str(path))
        return problems


@dataclass(frozen=True)
class VersionData:
    """A dataset version to read: its layout, where its files are, and how to name it in messages."""

    layout: str
    name: str
    resolve: Callable[[str], Path]
    """A path relative to the version's root -> a local file holding it."""
    part_matches: tuple[str, ...]
    """The matches of a ``shards`` version (empty for ``files``)."""
    record: dict[str, Any] | None
    """Its ``export.yaml`` (None for a folder written without one)."""

    def manifest(self) -> pd.DataFrame:
        """One row per sample, sorted by (match_id, frame): the manifest columns (``shards`` versions add width,
        height, shard, offset, size)."""
        if self.layout == LAYOUT_FILES:
            frame = pd.read_parquet(self.resolve(MANIFEST))
        else:
            paths = [self.resolve(f"{MATCHES_DIR}/{match}/{PART_SAMPLES}") for match in self.part_matches]
            frame = read_parts(paths, PART_SAMPLE_SCHEMA).to_pandas()
        return frame.sort_values(["match_id", "frame"], kind="stable", ignore_index=True)

    def labels(self, manifest: pd.DataFrame | None = None) -> pd.DataFrame:
        """Every box with its sample's ``split``, sorted by (match_id, frame, track_id)."""
        if self.layout == LAYOUT_FILES:
            frames = [pd.read_parquet(self.resolve(labels_file(split))).assign(split=split) for split in SPLITS]
            labels = pd.concat(frames, ignore_index=True)
        else:
            paths = [self.resolve(f"{MATCHES_DIR}/{match}/{PART_LABELS}") for match in self.part_matches]
            labels = read_parts(paths).to_pandas()
            if labels.empty:
                labels = pd.DataFrame(columns=list(LABEL_COLUMNS))
            manifest = self.manifest() if manifest is None else manifest
            splits = manifest[["match_id", "frame", "split"]]
            labels = labels[list(LABEL_COLUMNS)].merge(splits, on=["match_id", "frame"], how="inner")
        return labels.sort_values(["match_id", "frame", "track_id"], kind="stable", ignore_index=True)

    def images(self, manifest: pd.DataFrame) -> ImageReader:
        """A reader of the images of ``manifest``'s rows (a slice of :meth:`manifest`), by position."""
        if self.layout == LAYOUT_FILES:
            paths = np.array([str(self.resolve(path)) for path in manifest["path"]], dtype=object)
            return ImageReader(paths, None, None)
        resolved = {shard: str(self.resolve(shard)) for shard in manifest["shard"].unique()}
        paths = manifest["shard"].map(resolved).to_numpy(dtype=object)
        return ImageReader(paths, manifest["offset"].to_numpy(np.int64), manifest["size"].to_numpy(np.int64))


def folder_layout(root: Path) -> str:
    """``files`` when the folder has a ``manifest.parquet``, ``shards`` when it has a ``matches/`` folder."""
    if (root / MANIFEST).is_file():
        return LAYOUT_FILES
    if (root / MATCHES_DIR).is_dir():
        return LAYOUT_SHARDS
    raise CvopsError(
        f"{root} is not a dataset version: it has neither {MANIFEST} nor {MATCHES_DIR}/ (is the data pulled?)"
    )


def open_folder(root: str | Path) -> VersionData:
    """A version checked out in ``root`` (either layout)."""
    root = Path(root)
    layout = folder_layout(root)
    matches: tuple[str, ...] = ()
    if layout == LAYOUT_SHARDS:
        folder = root / MATCHES_DIR
        pointers = sorted(entry.name.removesuffix(".dvc") for entry in folder.glob("*.dvc"))
        # A DVC checkout lists its matches in .dvc files; a folder written without DVC has the folders only.
        matches = tuple(pointers or sorted(entry.name for entry in folder.iterdir() if entry.is_dir()))
        missing = [match for match in matches if not (folder / match / PART_SAMPLES).is_file()]
        if missing:
            raise CvopsError(
                f"{root}: {len(missing)} match folder(s) have no {PART_SAMPLES} (data not pulled?): {missing[:5]}"
            )
    record_file = root / EXPORT_YAML
    record = yaml.safe_load(record_file.read_text()) if record_file.is_file() else None
    return VersionData(
        layout=layout, name=str(root), resolve=lambda relpath: root / relpath, part_matches=matches, record=record
    )


def _show_blobs(repo: DatasetRepo, specs: Sequence[str]) -> dict[str, str | None]:
    """Contents of several small text blobs (``rev:path``) in one ``git cat-file --batch`` process."""
    if not specs:
        return {}
    output = repo.git("cat-file", "--batch", stdin="".join(f"{spec}\n" for spec in specs))
    contents: dict[str, str | None] = {}
    position = 0
    data = output.encode()
    for spec in specs:
        newline = data.index(b"\n", position)
        header = data[position:newline].decode().split()
        if header[-1] == "missing":
            contents[spec] = None
            position = newline + 1
            continue
        size = int(header[2])
        contents[spec] = data[newline + 1 : newline + 1 + size].decode()
        position = newline + 1 + size + 1
    return contents


def tracked_outputs(repo: DatasetRepo, rev: str) -> dict[str, str]:
    """Every DVC-tracked path of ``rev`` (``.dvc`` file name without the suffix) -> its object md5."""
    names = [name for name in repo.git("ls-tree", "-r", "--name-only", rev).splitlines() if name.endswith(".dvc")]
    texts = _show_blobs(repo, [f"{rev}:{name}" for name in names])
    return {name.removesuffix(".dvc"): dvc_out_md5(texts[f"{rev}:{name}"] or "") for name in names}


def open_version(repo: DatasetRepo, rev: str, outputs: dict[str, str] | None = None) -> VersionData:
    """The version at ``rev`` (a tag or commit) read from the repository's git and DVC cache, with no checkout.

    ``outputs``: ``tracked_outputs(repo, rev)`` when the caller has it already (it reads every ``.dvc`` file).
    """
    outputs = tracked_outputs(repo, rev) if outputs is None else outputs
    export_text = _show_blobs(repo, [f"{rev}:{EXPORT_YAML}"])[f"{rev}:{EXPORT_YAML}"]
    layout = LAYOUT_FILES if MANIFEST in outputs else LAYOUT_SHARDS
    prefix = f"{MATCHES_DIR}/"
    matches = tuple(sorted(target[len(prefix) :] for target in outputs if target.startswith(prefix)))
    listings: dict[str, dict[str, str]] = {}

    def object_md5(relpath: str) -> str:
        if relpath in outputs:
            return outputs[relpath]
        folder, _, rest = relpath.rpartition("/")
        while folder and folder not in outputs:
            folder, _, head = folder.rpartition("/")
            rest = f"{head}/{rest}"
        if not folder:
            raise CvopsError(f"{repo.path}: {relpath} is not part of the version at {rev}")
        if folder not in listings:
            listings[folder] = read_dir_object(repo.cache_dir, outputs[folder], what=f"{folder} at {rev}")
        md5 = listings[folder].get(rest)
        if md5 is None:
            raise CvopsError(f"{repo.path}: {relpath} is not part of the version at {rev}")
        return md5

    def resolve(relpath: str) -> Path:
        path = cache_object(repo.cache_dir, object_md5(relpath))
        if not path.is_file():
            raise CvopsError(
                f"{relpath} of {rev} is not in the DVC cache of {repo.path}: run `dvc fetch` there, or read a "
                "checkout (checkout_version)"
            )
        return path

    record = yaml.safe_load(export_text) if export_text else None
    return VersionData(layout=layout, name=f"{repo.path}@{rev}", resolve=resolve, part_matches=matches, record=record)


def verify_files(root: str | Path) -> int:
    """Check a checked-out version against its manifest: every image present with its md5, no extra image.

    Returns the number of images checked; raises :class:`CvopsError` listing the first problems otherwise.
    A trainer calls this once after :func:`~cvops.datasets.versions.checkout_version` to be sure the data is
    exactly the version it names. In the ``shards`` layout each image is read from its shard by its index.
    """
    root = Path(root)
    data = open_folder(root)
    manifest = data.manifest()
    images = data.images(manifest)
    problems = [f"{path}: missing or truncated" for path in images.missing()]
    if not problems:
        for index, (path, md5) in enumerate(zip(manifest["path"], manifest["md5"], strict=True)):
            if hashlib.md5(images.read(index)).hexdigest() != md5:
                problems.append(f"{path}: md5 differs from the manifest")
    if data.layout == LAYOUT_FILES:
        expected = set(manifest["path"])
        folders = (
            [entry for entry in (root / IMAGES_DIR).iterdir() if entry.is_dir()] if (root / IMAGES_DIR).is_dir() else []
        )
        for folder in folders:
            for dirpath, _dirnames, filenames in os.walk(folder):
                for name in filenames:
                    relpath = (Path(dirpath) / name).relative_to(root).as_posix()
                    if relpath not in expected:
                        problems.append(f"{relpath}: not in the manifest")
    if problems:
        shown = "; ".join(problems[:10])
        raise CvopsError(f"{root}: {len(problems)} sample(s) do not match the manifest: {shown}")
    return len(manifest)
