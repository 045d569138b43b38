"""Writing dataset-version folders (the layout in :mod:`cvops.model.schema`) from arrays or a synthetic store.

The dataset stage builds real versions from the label store; these helpers build the same layout directly, for
tests, benchmarks and for measuring the model on the synthetic generator's output without running the
platform. Every file is written atomically; writing the same samples again gives the same files.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from PIL import Image

from cvops.datasets.layout import LABEL_SCHEMA, MANIFEST_SCHEMA
from cvops.errors import InputError
from cvops.io import write_bytes_atomic, write_parquet_atomic
from cvops.model.schema import LABEL_COLUMNS, SPLITS, labels_path, manifest_path
from cvops.video.decode import decoded_frames

BOX_FIELDS = ("track_id", "role", "x", "y", "w", "h")


@dataclass(frozen=True)
class DatasetSample:
    """One frame to write: its RGB image and its boxes (columns ``track_id, role, x, y, w, h``, image
    pixels)."""

    match_id: str
    frame: int
    split: str
    image: np.ndarray
    boxes: pd.DataFrame
    group_key: str = ""


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def write_dataset_folder(root: Path, samples: Iterable[DatasetSample], *, jpeg_quality: int = 95) -> Path:
    """Write ``samples`` (consumed lazily, one image in memory at a time) as a dataset folder at ``root``."""
    root = Path(root)
    manifest_rows: list[dict[str, object]] = []
    label_frames: dict[str, list[pd.DataFrame]] = {split: [] for split in SPLITS}
    for sample in samples:
        if sample.split not in SPLITS:
            raise InputError(f"split {sample.split!r} is not one of {SPLITS}", field="split", match_id=sample.match_id)
        missing = [name for name in BOX_FIELDS if name not in sample.boxes.columns]
        if missing:
            raise InputError(
                f"boxes of frame {sample.frame} lack columns {missing}", field=missing[0], match_id=sample.match_id
            )
        relative = f"images/{sample.match_id}/{sample.frame:06d}.jpg"
        data = encode_jpeg(sample.image, jpeg_quality)
        write_bytes_atomic(root / relative, data)
        manifest_rows.append(
            {
                "match_id": sample.match_id,
                "frame": int(sample.frame),
                "split": sample.split,
                "group_key": sample.group_key or sample.match_id,
                "md5": hashlib.md5(data).hexdigest(),
                "path": relative,
                "n_boxes": len(sample.boxes),
            }
        )
        boxes = sample.boxes.loc[:, list(BOX_FIELDS)].assign(match_id=sample.match_id, frame=int(sample.frame))
        label_frames[sample.split].append(boxes)
    manifest = pd.DataFrame(manifest_rows, columns=MANIFEST_SCHEMA.names)
    write_parquet_atomic(manifest_path(root), pa.Table.from_pandas(manifest, MANIFEST_SCHEMA, preserve_index=False))
    for split, frames in label_frames.items():
        labels = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(LABEL_COLUMNS))
        table = pa.Table.from_pandas(labels.loc[:, list(LABEL_COLUMNS)], LABEL_SCHEMA, preserve_index=False)
        write_parquet_atomic(labels_path(root, split), table)
    return root


def decode_every_nth_frame(video: Path, every: int) -> Iterator[tuple[int, np.ndarray]]:
    """``(frame, rgb)`` for 1-based frames 1, 1 + every, 1 + 2 * every, ... decoded sequentially with PyAV.

    Sequential decoding (not seeking) because the synthetic clips are short and every Nth frame of a short
    H.264 clip costs about as much to seek to as to decode through.
    """
    for number, frame in decoded_frames(video):
        if (number - 1) % every == 0:
            yield number, frame.to_ndarray(format="rgb24")


def _read_truth(path: Path, match_id: str) -> pd.DataFrame:
    if not path.is_file():
        raise InputError("truth boxes not found", file=path, match_id=match_id)
    truth = pd.read_csv(path)
    for column in ("frame", *BOX_FIELDS):
        if column not in truth.columns:
            raise InputError("missing column", file=path, field=column, match_id=match_id)
    return truth


def synth_samples(store: Path, match_ids: Sequence[str], val_matches: set[str], every: int) -> Iterator[DatasetSample]:
    for match_id in match_ids:
        truth = _read_truth(store / "_truth" / match_id / "boxes.csv", match_id)
        by_frame = {int(frame): rows for frame, rows in truth.groupby("frame")}
        split = "val" if match_id in val_matches else "train"
        for frame, image in decode_every_nth_frame(store / "videos" / f"{match_id}.mp4", every):
            boxes = by_frame.get(frame, truth.iloc[:0]).loc[:, list(BOX_FIELDS)]
            yield DatasetSample(match_id=match_id, frame=frame, split=split, image=image, boxes=boxes)


def dataset_from_synth_store(
    store: Path,
    root: Path,
    *,
    every: int = 5,
    val_matches: int | Sequence[str] = 1,
    jpeg_quality: int = 95,
) -> Path:
    """A dataset folder from a ``cvops.synth`` store: every ``every``-th frame of ``videos/<match>.mp4``
    with its truth boxes from ``_truth/<match>/boxes.csv`` as labels. ``val_matches``: the ids to hold out,
    or how many of the (sorted) last matches to hold out. Each match is its own group."""
    store = Path(store)
    match_ids = sorted(path.parent.name for path in (store / "_truth").glob("*/boxes.csv"))
    if not match_ids:
        raise InputError("no _truth/<match_id>/boxes.csv in the synthetic store", file=store)
    if isinstance(val_matches, int):
        held_out = set(match_ids[len(match_ids) - val_matches :]) if val_matches > 0 else set()
    else:
        held_out = set(val_matches)
        unknown = held_out - set(match_ids)
        if unknown:
            raise InputError(f"val matches not in the store: {sorted(unknown)}", file=store, field="val_matches")
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    return write_dataset_folder(root, synth_samples(store, match_ids, held_out, every), jpeg_quality=jpeg_quality)
