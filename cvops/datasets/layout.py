"""The files of a dataset version: names, columns and how to read them back.

A version (layout ``shards``, written since cvops made datasets at season scale) is made of one part per
match::

    export.yaml                          git: config, code commit, sources, version number, counts
    matches/<match_id>.dvc               git: the DVC pointer of the match's folder
    matches/<match_id>/samples.parquet   the match's manifest rows (the columns below)
    matches/<match_id>/labels.parquet    match_id, frame, track_id, role, x, y, w, h
    matches/<match_id>/<match_id>-<first>-<last>-<md5>.tar   shards: the sample images (cvops.datasets.shards)

DVC tracks one folder per match, so a version re-hashes and pushes only the matches that changed. The version's
manifest and labels are the union of its parts (``pd.read_parquet`` of the part files, or DuckDB's
``read_parquet('matches/*/samples.parquet')``); COCO files and plain image files are written on demand
(``cvops dataset files``).

Versions made before (layout ``files``) hold one file per sample and whole-version metadata; they stay
readable::

    manifest.parquet                     one row per sample: match_id, frame, split, group_key, md5, path, n_boxes
    labels/train.parquet, val.parquet    match_id, frame, track_id, role, x, y, w, h
    images/<match_id>/<frame:06d>.jpg    manifest.path is relative to the repository root
    annotations/instances_train.json, instances_val.json   COCO-style

``cvops dataset files`` writes that same ``files`` layout, which training also reads.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from cvops.errors import CvopsError

MATCHES_DIR = "matches"
PART_SAMPLES = "samples.parquet"
PART_LABELS = "labels.parquet"
LAYOUT_SHARDS = "shards"
LAYOUT_FILES = "files"

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

SHARD_LOCATION_COLUMNS = ("shard", "offset", "size")
PART_SAMPLE_SCHEMA = pa.schema(
    [
        *MANIFEST_SCHEMA,
        ("width", pa.int64()),
        ("height", pa.int64()),
        ("shard", pa.string()),
        ("offset", pa.int64()),
        ("size", pa.int64()),
    ]
)
"""A match part's rows: the manifest columns, the image's pixel size (COCO needs it) and where its bytes are:
``shard`` relative to the version's root, the byte ``offset`` of the image in it and its ``size``."""


DATASET_SAMPLE_SCHEMA = pa.schema(
    [("version", pa.int64()), *(MANIFEST_SCHEMA.field(c) for c in DATASET_SAMPLE_COLUMNS[1:])]
)


def dataset_sample_rows(manifest: pd.DataFrame, version: int) -> pd.DataFrame:
    """The ``dataset_samples`` catalog rows of a version from its manifest rows (sorted by match_id, frame)."""
    rows = manifest.sort_values(["match_id", "frame"], kind="stable").assign(version=version)
    return table_from_frame(rows, DATASET_SAMPLE_SCHEMA).to_pandas()


def match_folder(match_id: str) -> str:
    return f"{MATCHES_DIR}/{match_id}"


def part_samples_file(match_id: str) -> str:
    return f"{MATCHES_DIR}/{match_id}/{PART_SAMPLES}"


def part_labels_file(match_id: str) -> str:
    return f"{MATCHES_DIR}/{match_id}/{PART_LABELS}"


def image_relpath(match_id: str, frame: int) -> str:
    return f"{IMAGES_DIR}/{match_id}/{image_name(frame)}"


def image_name(frame: int) -> str:
    return f"{int(frame):06d}.jpg"


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


# libyaml's parser where PyYAML was built with it (the wheels are): an export reads every match's .dvc file, and
# the pure-Python parser takes a quarter of a millisecond for each.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def dvc_out_md5(dvc_file_text: str) -> str:
    """The hash a ``.dvc`` file records for its single output (``<md5>.dir`` for a folder)."""
    outs = (yaml.load(dvc_file_text, Loader=_YAML_LOADER) or {}).get("outs") or []
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
