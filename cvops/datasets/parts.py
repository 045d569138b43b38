"""A version's per-match parts: which matches changed since the latest version, and the folders of those that did.

A match's part is the folder ``matches/<match_id>/``: ``samples.parquet`` (its manifest rows, with where each
image is), ``labels.parquet`` and its shards (:mod:`cvops.datasets.shards`). DVC tracks one such folder per match.

**Which matches to look at.** Each match's input rows (samples: frame, split, group key, source path; labels:
every column) get a fingerprint (``pandas.util.hash_pandas_object``, vectorised). cvops remembers, per match,
the fingerprint its folder was built from, the folder's DVC id and the stat of its files
(``.git/cvops/match-parts.json``). A match whose fingerprint, DVC id (the one HEAD records) and files all agree
is reused as it is: none of its files, source images or labels is read again. Source images are taken as
immutable, which the sample store guarantees (a path names what determines its bytes). Any other match is
rebuilt from its inputs; if what comes out equals HEAD's part, HEAD's part is kept.

**Shards are never rewritten.** A sample whose bytes (md5) are already in one of the match's shards, in this or
any earlier version (``.git/cvops/shards/<match_id>.parquet`` remembers every shard made for the match), keeps
that location; only samples with new bytes go into new shards, in frame order, at most ``max_shard_bytes`` of
images each. So a match that gains frames gains a shard, one that loses frames lists fewer rows, and each sample
is stored and pushed once across all versions.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from cvops.datasets.layout import (
    LABEL_SCHEMA,
    MATCHES_DIR,
    PART_LABELS,
    PART_SAMPLE_SCHEMA,
    PART_SAMPLES,
    cache_object,
    image_relpath,
    match_folder,
    read_dir_object,
    table_from_frame,
)
from cvops.datasets.repo import DatasetRepo
from cvops.datasets.sample_info import describe_images
from cvops.datasets.shards import write_shard
from cvops.io import write_parquet_atomic, write_text_atomic

logger = logging.getLogger(__name__)

PARTS_FORMAT = "cvops-match-part/1"
"""Changes when what a part holds changes, so that every match is rebuilt once after an upgrade."""
DEFAULT_MAX_SHARD_BYTES = 256 * 1024**2
STATE_FILE = "match-parts.json"
SAMPLE_COLUMNS_HASHED = ["frame", "split", "group_key", "source_path"]
LABEL_COLUMNS_HASHED = ["frame", "track_id", "role", "x", "y", "w", "h"]
SHARD_INDEX_COLUMNS = ["md5", "shard", "shard_md5", "offset", "size"]


def _group_bounds(match_ids: pd.Series) -> dict[str, tuple[int, int]]:
    """(start, stop) of each match's rows in a frame sorted by match_id."""
    codes, uniques = pd.factorize(match_ids, sort=False)
    if len(codes) == 0:
        return {}
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    stops = np.r_[starts[1:], len(codes)]
    return {str(uniques[codes[start]]): (int(start), int(stop)) for start, stop in zip(starts, stops, strict=True)}


class _ColumnBytes:
    """The bytes of a column's rows ``[start, stop)``, for hashing: numbers as their array, strings as their
    lengths and UTF-8 data (Arrow's buffers, no per-row Python)."""

    def __init__(self, series: pd.Series) -> None:
        self.strings = not pd.api.types.is_numeric_dtype(series.dtype)
        if self.strings:
            array = pa.array(series, type=pa.large_string(), from_pandas=True)
            array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
            _validity, offsets, data = array.buffers()
            self.offsets = np.frombuffer(offsets, dtype=np.int64)[array.offset : array.offset + len(array) + 1]
            self.data = memoryview(data) if data is not None else memoryview(b"")
        else:
            self.values = np.ascontiguousarray(series.to_numpy())

    def update(self, digest: hashlib._Hash, start: int, stop: int) -> None:
        if self.strings:
            offsets = self.offsets[start : stop + 1]
            digest.update(np.diff(offsets).tobytes())
            digest.update(self.data[offsets[0] : offsets[-1]])
        else:
            digest.update(self.values[start:stop].tobytes())


def match_fingerprints(samples: pd.DataFrame, labels: pd.DataFrame, max_shard_bytes: int) -> dict[str, str]:
    """A fingerprint of each match's input rows (both frames sorted by match_id, then frame)."""
    sample_columns = [_ColumnBytes(samples[column]) for column in SAMPLE_COLUMNS_HASHED]
    label_columns = [_ColumnBytes(labels[column]) for column in LABEL_COLUMNS_HASHED]
    label_bounds = _group_bounds(labels["match_id"])
    salt = f"{PARTS_FORMAT}|{max_shard_bytes}".encode()
    fingerprints = {}
    for match_id, (start, stop) in _group_bounds(samples["match_id"]).items():
        digest = hashlib.sha256(salt)
        for column in sample_columns:
            column.update(digest, start, stop)
        label_start, label_stop = label_bounds.get(match_id, (0, 0))
        digest.update(b"|labels|")
        for column in label_columns:
            column.update(digest, label_start, label_stop)
        fingerprints[match_id] = digest.hexdigest()
    return fingerprints


def split_by_match(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Rows of each match, for a frame sorted by match_id (slices, no copy of the whole frame)."""
    return {match_id: frame.iloc[start:stop] for match_id, (start, stop) in _group_bounds(frame["match_id"]).items()}


# -- what cvops remembers about the folders it built -----------------------------------------------------


@dataclass
class MatchState:
    """What a match's folder was built from and holds: enough to reuse it without reading it."""

    fingerprint: str
    folder_md5: str
    files: dict[str, list[int]]
    samples: int
    boxes: int
    train: int
    bytes: int


def folder_stat(folder: Path) -> dict[str, list[int]]:
    """name -> [size, mtime_ns, inode] of the files in ``folder`` (empty when it does not exist)."""
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return {}
    stats = {}
    for entry in entries:
        stat = entry.stat(follow_symlinks=False)
        stats[entry.name] = [stat.st_size, stat.st_mtime_ns, stat.st_ino]
    return stats


@dataclass
class PartStates:
    """``.git/cvops/match-parts.json``: a :class:`MatchState` per match, as of the last export."""

    path: Path
    matches: dict[str, MatchState] = field(default_factory=dict)

    @classmethod
    def load(cls, repo: DatasetRepo) -> PartStates:
        path = repo.state_dir / STATE_FILE
        try:
            raw = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            return cls(path=path)
        if raw.get("format") != PARTS_FORMAT:
            return cls(path=path)
        return cls(path=path, matches={match: MatchState(**state) for match, state in raw["matches"].items()})

    def save(self) -> None:
        payload = {"format": PARTS_FORMAT, "matches": {m: vars(s) for m, s in sorted(self.matches.items())}}
        write_text_atomic(self.path, json.dumps(payload, separators=(",", ":")))

    def reusable(self, repo: DatasetRepo, match_id: str, fingerprint: str, head_md5: str | None) -> bool:
        """The match's input and folder are exactly those HEAD's part was built from and holds."""
        state = self.matches.get(match_id)
        return (
            state is not None
            and head_md5 is not None
            and state.fingerprint == fingerprint
            and state.folder_md5 == head_md5
            and folder_stat(repo.path / match_folder(match_id)) == state.files
        )


# -- the shards a match ever had ---------------------------------------------------------------------------


def _shard_index_file(repo: DatasetRepo, match_id: str) -> Path:
    return repo.state_dir / "shards" / f"{match_id}.parquet"


def known_locations(
    repo: DatasetRepo, match_id: str, head_part: pd.DataFrame | None, head_listing: dict[str, str]
) -> pd.DataFrame:
    """Every sample (by md5) already in a shard of this match whose object is in the DVC cache: md5, shard
    (file name), shard_md5, offset, size; one row per md5."""
    frames = []
    index_file = _shard_index_file(repo, match_id)
    if index_file.is_file():
        frames.append(pd.read_parquet(index_file, columns=SHARD_INDEX_COLUMNS))
    if head_part is not None and len(head_part):
        names = head_part["shard"].str.rsplit("/", n=1).str[-1]
        frames.append(head_part.assign(shard=names, shard_md5=names.map(head_listing))[SHARD_INDEX_COLUMNS].dropna())
    if not frames:
        return pd.DataFrame(columns=SHARD_INDEX_COLUMNS)
    known = pd.concat(frames, ignore_index=True)
    present = {md5: cache_object(repo.cache_dir, md5).is_file() for md5 in known["shard_md5"].unique()}
    known = known[known["shard_md5"].map(present)]
    return known.sort_values(["shard", "offset"], kind="stable").drop_duplicates("md5", ignore_index=True)


def remember_shards(repo: DatasetRepo, match_id: str, shards: pd.DataFrame) -> None:
    """Add newly committed shards (SHARD_INDEX_COLUMNS) to the match's shard index."""
    if shards.empty:
        return
    index_file = _shard_index_file(repo, match_id)
    frames = [pd.read_parquet(index_file, columns=SHARD_INDEX_COLUMNS)] if index_file.is_file() else []
    merged = pd.concat([*frames, shards[SHARD_INDEX_COLUMNS]], ignore_index=True).drop_duplicates(["md5", "shard"])
    write_parquet_atomic(index_file, pa.Table.from_pandas(merged, preserve_index=False))


# -- building a part -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuiltPart:
    """A match's part as the candidate makes it. ``changed`` is False when it equals HEAD's part (then nothing
    was written). ``new_shards`` are the shards written for it (SHARD_INDEX_COLUMNS, shard_md5 included)."""

    match_id: str
    samples: pd.DataFrame
    labels: pd.DataFrame
    changed: bool
    bytes_new: int
    new_shards: pd.DataFrame


def _pack(sizes: np.ndarray, max_bytes: int) -> list[tuple[int, int]]:
    """Consecutive runs of samples with at most ``max_bytes`` of images each (at least one sample per run)."""
    runs, start, total = [], 0, 0
    for position, size in enumerate(sizes.tolist()):
        if position > start and total + size > max_bytes:
            runs.append((start, position))
            start, total = position, 0
        total += size
    if len(sizes):
        runs.append((start, len(sizes)))
    return runs


def _link_or_copy(source: Path, target: Path) -> None:
    """Hard-link a cache object into a folder (what DVC's own ``hardlink`` cache type does), else copy it."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def build_part(
    repo: DatasetRepo,
    match_id: str,
    samples: pd.DataFrame,
    labels: pd.DataFrame,
    head_part: pd.DataFrame | None,
    head_labels: pd.DataFrame | None,
    head_listing: dict[str, str],
    max_shard_bytes: int,
) -> BuiltPart:
    """The match's part from its checked input rows; its folder is (re)built only if it differs from HEAD's."""
    info = describe_images(samples["source_path"], repo.state_dir / "sample-info" / f"{match_id}.parquet")
    rows = samples.merge(info.rename(columns={"path": "source_path", "bytes": "size"}), on="source_path")
    boxes = labels.merge(rows[["frame"]], on="frame", how="inner")
    counts = boxes.groupby("frame").size()
    rows["n_boxes"] = rows["frame"].map(counts).fillna(0).astype("int64")
    rows["path"] = [image_relpath(match_id, frame) for frame in rows["frame"]]

    known = known_locations(repo, match_id, head_part, head_listing)
    located = rows.merge(known[["md5", "shard", "offset"]], on="md5", how="left")
    new = located[located["shard"].isna()].drop_duplicates("md5")
    folder = repo.path / MATCHES_DIR
    building = folder / f".{match_id}.building"
    new_shards = []
    shutil.rmtree(building, ignore_errors=True)  # what a killed export left
    building.mkdir(parents=True)
    if len(new):
        for start, stop in _pack(new["size"].to_numpy(), max_shard_bytes):
            chunk = new.iloc[start:stop]
            packed = write_shard(building, match_id, chunk["frame"].tolist(), chunk["source_path"].tolist())
            new_shards.append(
                pd.DataFrame(
                    {"md5": chunk["md5"].to_numpy(), "shard": packed.path.name, "shard_md5": packed.md5,
                     "offset": packed.offsets, "size": packed.sizes}
                )
            )  # fmt: skip
    shards = pd.concat(new_shards, ignore_index=True) if new_shards else pd.DataFrame(columns=SHARD_INDEX_COLUMNS)
    locations = pd.concat([known, shards], ignore_index=True).drop_duplicates("md5")
    part = rows.drop(columns=["size"]).merge(locations[["md5", "shard", "offset", "size"]], on="md5", how="left")
    part["shard"] = match_folder(match_id) + "/" + part["shard"]
    part = part.sort_values("frame", kind="stable", ignore_index=True)
    part_table = table_from_frame(part, PART_SAMPLE_SCHEMA)
    labels_table = table_from_frame(boxes, LABEL_SCHEMA)
    bytes_before = set(head_part["md5"]) if head_part is not None else set()
    unique = part.drop_duplicates("md5")
    bytes_new = int(unique.loc[~unique["md5"].isin(bytes_before), "size"].sum())

    same = (
        head_part is not None
        and head_labels is not None
        and part_table.equals(table_from_frame(head_part, PART_SAMPLE_SCHEMA))
        and labels_table.equals(table_from_frame(head_labels, LABEL_SCHEMA))
    )
    if same:
        shutil.rmtree(building, ignore_errors=True)
        return BuiltPart(match_id, part, boxes, changed=False, bytes_new=0, new_shards=shards.iloc[:0])

    names = set(part["shard"].str.rsplit("/", n=1).str[-1])
    reused = known[known["shard"].isin(names)].drop_duplicates("shard")
    for name, shard_md5 in zip(reused["shard"], reused["shard_md5"], strict=True):
        _link_or_copy(cache_object(repo.cache_dir, shard_md5), building / name)
    write_parquet_atomic(building / PART_SAMPLES, part_table)
    write_parquet_atomic(building / PART_LABELS, labels_table)
    final = repo.path / match_folder(match_id)
    if final.exists():
        shutil.rmtree(final)
    building.rename(final)
    return BuiltPart(match_id, part, boxes, changed=True, bytes_new=bytes_new, new_shards=shards)


def restore_folder(repo: DatasetRepo, match_id: str, dir_md5: str) -> None:
    """Put HEAD's folder of a match back from the DVC cache (after a killed export left another one there)."""
    listing = read_dir_object(repo.cache_dir, dir_md5, what=match_folder(match_id))
    final = repo.path / match_folder(match_id)
    building = final.with_name(f".{match_id}.building")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    for name, md5 in listing.items():
        _link_or_copy(cache_object(repo.cache_dir, md5), building / name)
    if final.exists():
        shutil.rmtree(final)
    building.rename(final)
