"""Run the tracker over a whole sequence held in a DataFrame."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import NoReturn

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from cvops.errors import InputError
from cvops.tracking.config import TrackerConfig
from cvops.tracking.tracker import OnlineTracker

DETECTION_INPUT_COLUMNS = ("frame", "x", "y", "w", "h", "conf")
TRACK_COLUMNS = ("frame", "track_id", "x", "y", "w", "h", "conf", "cls")
_EMBEDDING_COLUMN = re.compile(r"^emb_(\d+)$")


def track_sequence(
    detections: pd.DataFrame,
    config: TrackerConfig | None = None,
    *,
    frames: Iterable[int] | None = None,
    camera_motion: Mapping[int, ArrayLike] | None = None,
) -> pd.DataFrame:
    """Track one sequence of detections; returns ``frame,track_id,x,y,w,h,conf,cls`` sorted by frame and id.

    ``detections`` has ``frame,x,y,w,h,conf``, optionally ``cls`` (integer class, 0 when absent) and an
    appearance embedding either as columns ``emb_0 .. emb_{D-1}`` or as one ``embedding`` column of arrays.

    ``frames`` are the frames the detector looked at, in any order, those where it found nothing included: the
    tracker steps once per frame, so lost tracks age and tentative ones are dropped only in frames that were
    looked at. By default every frame from the first detection's to the last one's. A clip sampled every
    ``n``-th frame must pass its frames: stepping the frames in between would make every track miss every
    other step, and a track born after the first frame would never be confirmed.

    ``camera_motion``: per stepped frame, the (2, 3) affine transform from the previous stepped frame's pixels to
    this frame's (``cvops.tracking.camera_motion``); the tracker moves its predictions with the camera. Frames
    missing from the mapping are taken as a still camera.
    """
    frame_of_row, boxes, scores, classes = _core_columns(detections)
    embeddings = _embeddings(detections)
    steps = _steps(frame_of_row, frames)
    if len(steps) == 0:
        return _empty_tracks()
    order = np.argsort(frame_of_row, kind="stable")
    sorted_frames = frame_of_row[order]
    starts = np.searchsorted(sorted_frames, steps, side="left")
    ends = np.searchsorted(sorted_frames, steps, side="right")
    tracker = OnlineTracker(config)
    out: dict[str, list[NDArray]] = {name: [] for name in TRACK_COLUMNS}
    for frame, start, end in zip(steps.tolist(), starts, ends, strict=True):
        rows = order[start:end]
        result = tracker.update(
            boxes[rows],
            scores[rows],
            classes[rows],
            None if embeddings is None else embeddings[rows],
            camera_motion=None if camera_motion is None else camera_motion.get(frame),
        )
        out["frame"].append(np.full(len(result), frame, dtype=np.int64))
        out["track_id"].append(result.track_ids)
        for position, name in enumerate(("x", "y", "w", "h")):
            out[name].append(result.boxes[:, position])
        out["conf"].append(result.scores)
        out["cls"].append(result.classes)
    return pd.DataFrame({name: np.concatenate(parts) for name, parts in out.items()})


def _steps(frame_of_row: NDArray[np.int64], frames: Iterable[int] | None) -> NDArray[np.int64]:
    """The frames the tracker steps through, in order; every detection's frame must be one of them."""
    if frames is None:
        if len(frame_of_row) == 0:
            return np.zeros(0, dtype=np.int64)
        return np.arange(frame_of_row.min(), frame_of_row.max() + 1, dtype=np.int64)
    steps = np.unique(np.fromiter((int(f) for f in frames), dtype=np.int64))
    outside = frame_of_row[~np.isin(frame_of_row, steps)]
    if len(outside):
        first = int(outside.min())
        raise InputError(f"a detection in frame {first}, which is not one of the given frames", field="frame")
    return steps


def _empty_tracks() -> pd.DataFrame:
    dtypes = {"frame": np.int64, "track_id": np.int64, "cls": np.int64}
    return pd.DataFrame({name: np.zeros(0, dtype=dtypes.get(name, float)) for name in TRACK_COLUMNS})


def _core_columns(
    detections: pd.DataFrame,
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    missing = [c for c in DETECTION_INPUT_COLUMNS if c not in detections.columns]
    if missing:
        raise InputError(f"detections lack column(s) {', '.join(missing)}", field=missing[0])
    numeric = {c: _finite_column(detections, c) for c in (*DETECTION_INPUT_COLUMNS, "cls") if c in detections}
    bad = np.flatnonzero((numeric["frame"] != np.round(numeric["frame"])) | (numeric["frame"] < 1))
    if len(bad):
        _raise_at(detections, bad[0], "frame", "must be an integer >= 1")
    if "cls" in numeric:
        bad = np.flatnonzero(numeric["cls"] != np.round(numeric["cls"]))
        if len(bad):
            _raise_at(detections, bad[0], "cls", "must be an integer class id")
    for name in ("w", "h"):
        bad = np.flatnonzero(numeric[name] <= 0)
        if len(bad):
            _raise_at(detections, bad[0], name, "box size must be > 0")
    classes = numeric["cls"].astype(np.int64) if "cls" in numeric else np.zeros(len(detections), dtype=np.int64)
    boxes = np.column_stack([numeric[c] for c in ("x", "y", "w", "h")])
    return numeric["frame"].astype(np.int64), boxes, numeric["conf"], classes


def _finite_column(detections: pd.DataFrame, name: str) -> NDArray[np.float64]:
    values = pd.to_numeric(detections[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        _raise_at(detections, bad[0], name, "not a finite number")
    return values


def _embeddings(detections: pd.DataFrame) -> NDArray[np.float64] | None:
    indexed = {int(m.group(1)): c for c in detections.columns if (m := _EMBEDDING_COLUMN.match(str(c)))}
    if indexed and "embedding" in detections.columns:
        raise InputError("give embeddings either as emb_<i> columns or as one 'embedding' column", field="embedding")
    if indexed:
        expected = set(range(len(indexed)))
        if set(indexed) != expected:
            gap = min(expected - set(indexed))
            raise InputError(f"embedding columns must be emb_0..emb_{len(indexed) - 1}", field=f"emb_{gap}")
        columns = [indexed[i] for i in range(len(indexed))]
        return np.column_stack([_finite_column(detections, c) for c in columns])
    if "embedding" not in detections.columns:
        return None
    vectors = [np.asarray(v, dtype=float).reshape(-1) for v in detections["embedding"]]
    if not vectors:
        return np.zeros((0, 0))
    sizes = np.array([len(v) for v in vectors])
    bad = np.flatnonzero(sizes != sizes[0])
    if len(bad):
        _raise_at(detections, bad[0], "embedding", f"length {sizes[bad[0]]}, the first row has {sizes[0]}")
    return np.stack(vectors)


def _raise_at(detections: pd.DataFrame, position: int, field: str, message: str) -> NoReturn:
    raise InputError(f"{message} (detections row {detections.index[position]!r})", field=field)
