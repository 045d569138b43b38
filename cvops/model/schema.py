"""The dataset-version folder the model reads (the contract with the dataset stage).

A checked-out dataset version is in one of two layouts (``cvops.datasets.layout``). ``shards``, what the
dataset stage exports: one part per match, ``matches/<match_id>/samples.parquet`` (the manifest rows, with the
shard, offset and size of each image), ``labels.parquet`` and tar shards read in place. ``files``, what
``cvops dataset files`` writes, older versions hold and the helpers in ``cvops.model.dataset_folder`` write::

    <root>/manifest.parquet        one row per sample: match_id, frame, split, group_key, md5, path, n_boxes
    <root>/labels/train.parquet    match_id, frame, track_id, role, x, y, w, h (pixel boxes, top-left)
    <root>/labels/val.parquet
    <root>/images/<match_id>/<frame:06d>.jpg   (manifest.path is relative to <root>)

The folder comes from another stage (and, through DVC, possibly from another machine), so it is validated here
and every problem is reported with the file, the (1-based) data row and the field.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from cvops.datasets.layout import MATCHES_DIR
from cvops.datasets.reader import open_folder
from cvops.errors import InputError

CLASS_NAMES: tuple[str, ...] = ("player", "goalkeeper", "referee", "ball")
"""Detected classes, in heatmap channel order. Other roles in the labels (e.g. ``other``) are ignored."""

SPLITS: tuple[str, ...] = ("train", "val")
MANIFEST_COLUMNS: tuple[str, ...] = ("match_id", "frame", "split", "group_key", "md5", "path", "n_boxes")
LABEL_COLUMNS: tuple[str, ...] = ("match_id", "frame", "track_id", "role", "x", "y", "w", "h")


def manifest_path(root: Path) -> Path:
    return Path(root) / "manifest.parquet"


def is_sharded(root: Path) -> bool:
    """Whether ``root`` holds a version in the ``shards`` layout (else it is read as ``files``)."""
    return not manifest_path(root).is_file() and (Path(root) / MATCHES_DIR).is_dir()


def _sharded_table(root: Path, what: str, columns: tuple[str, ...]) -> tuple[pd.DataFrame, Path]:
    """The manifest or labels of a ``shards`` folder (every part), and the folder to name in errors."""
    data = open_folder(root)
    frame = data.manifest() if what == "manifest" else data.labels()
    for column in columns:
        if column not in frame.columns:
            raise InputError(f"missing column (expected {', '.join(columns)})", file=Path(root) / MATCHES_DIR,
                             field=column)  # fmt: skip
    return frame, Path(root) / MATCHES_DIR


def labels_path(root: Path, split: str) -> Path:
    return Path(root) / "labels" / f"{split}.parquet"


def _read_parquet(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    if not path.is_file():
        raise InputError("file not found (is this a checked-out dataset version?)", file=path)
    schema_names = pq.read_schema(path).names
    for column in columns:
        if column not in schema_names:
            raise InputError(f"missing column (expected {', '.join(columns)})", file=path, field=column)
    return pq.read_table(path, columns=list(columns)).to_pandas()


def _first_bad_row(mask: np.ndarray) -> int:
    """1-based data row of the first ``True`` in ``mask`` (parquet has no header row)."""
    return int(np.flatnonzero(mask)[0]) + 1


def read_manifest(root: Path, split: str | None = None) -> pd.DataFrame:
    """The validated manifest, optionally restricted to one split, sorted by (match_id, frame)."""
    if is_sharded(root):
        manifest, path = _sharded_table(root, "manifest", MANIFEST_COLUMNS)
    else:
        path = manifest_path(root)
        manifest = _read_parquet(path, MANIFEST_COLUMNS)
    bad_split = ~manifest["split"].isin(SPLITS).to_numpy()
    if bad_split.any():
        row = _first_bad_row(bad_split)
        raise InputError(
            f"split {manifest['split'].iloc[row - 1]!r} is not one of {SPLITS}",
            file=path,
            row=row,
            field="split",
        )
    frames = pd.to_numeric(manifest["frame"], errors="coerce")
    bad_frame = (frames.isna() | (frames < 0)).to_numpy()
    if bad_frame.any():
        raise InputError(
            "frame must be a non-negative integer", file=path, row=_first_bad_row(bad_frame), field="frame"
        )
    manifest["frame"] = frames.astype(np.int64)
    manifest["match_id"] = manifest["match_id"].astype(str)
    duplicated = manifest.duplicated(["match_id", "frame"]).to_numpy()
    if duplicated.any():
        raise InputError("duplicate (match_id, frame) sample", file=path, row=_first_bad_row(duplicated), field="frame")
    if split is not None:
        if split not in SPLITS:
            raise InputError(f"unknown split {split!r}: expected one of {SPLITS}", field="split")
        manifest = manifest[manifest["split"] == split]
    return manifest.sort_values(["match_id", "frame"], kind="stable").reset_index(drop=True)


def read_labels(root: Path, split: str) -> pd.DataFrame:
    """Validated labels of one split, restricted to :data:`CLASS_NAMES`, with an integer ``cls`` column.

    A missing labels file is an error (a split without boxes still has an empty file), so a half-copied
    dataset is not silently read as "no objects".
    """
    if is_sharded(root):
        if split not in SPLITS:
            raise InputError(f"unknown split {split!r}: expected one of {SPLITS}", field="split")
        labels, path = _sharded_table(root, "labels", LABEL_COLUMNS)
        labels = labels[labels["split"] == split].reset_index(drop=True)
    else:
        path = labels_path(root, split)
        labels = _read_parquet(path, LABEL_COLUMNS)
    labels["match_id"] = labels["match_id"].astype(str)
    labels["role"] = labels["role"].astype(str)
    for column in ("frame", "track_id", "x", "y", "w", "h"):
        values = pd.to_numeric(labels[column], errors="coerce")
        numbers = values.to_numpy(dtype=float, na_value=np.nan)
        bad = ~np.isfinite(numbers)
        if column in ("w", "h"):
            bad |= numbers <= 0
        if bad.any():
            row = _first_bad_row(bad)
            expected = "a positive number" if column in ("w", "h") else "a finite number"
            raise InputError(
                f"{column}={labels[column].iloc[row - 1]!r} is not {expected}",
                file=path,
                row=row,
                field=column,
            )
        labels[column] = values
    labels["frame"] = labels["frame"].astype(np.int64)
    labels["track_id"] = labels["track_id"].astype(np.int64)
    labels = labels[labels["role"].isin(CLASS_NAMES)].copy()
    labels["cls"] = labels["role"].map({name: index for index, name in enumerate(CLASS_NAMES)}).astype(np.int64)
    return labels.reset_index(drop=True)
