"""A model's detections of a match as tracks (pseudo-labels), and tracks as the keyframes a person would place.

The tracks come from the same online tracker the benchmark uses (``cvops.tracking``), on the detections stored in
``match_predictions`` (no appearance embeddings are stored, so the tracker associates by motion and overlap).
Turned into keyframes with the simplification the synthetic annotator uses (Ramer-Douglas-Peucker, so that linear
interpolation stays within ``tolerance_px`` of every tracked box), each run of a track closed by an ``outside``
keyframe, the tracks become a label store match or a CVAT task that draws exactly what the tracker reported.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from cvops.labels.simplify import simplify_track
from cvops.model.schema import CLASS_NAMES
from cvops.tracking import TrackerConfig, track_sequence

MODEL_TRACK_COLUMNS = ("frame", "track_id", "role", "x", "y", "w", "h", "conf")
UNKNOWN_ROLE = "other"
"""The role of tracks from detections without a class (the product's ``det.txt``)."""


def track_predictions(
    predictions: pd.DataFrame, frames: Sequence[int], config: TrackerConfig | None = None
) -> pd.DataFrame:
    """Track ``predictions`` (``match_predictions``: ``frame, x, y, w, h, conf`` and ``role`` when the model gave
    one) over ``frames`` (the frames the model looked at); returns ``MODEL_TRACK_COLUMNS``."""
    if predictions.empty:
        return _empty_tracks()
    roles = predictions["role"] if "role" in predictions else pd.Series(pd.NA, index=predictions.index)
    classes = roles.map({name: index for index, name in enumerate(CLASS_NAMES)})
    known = classes.notna().to_numpy()
    detections = predictions[["frame", "x", "y", "w", "h", "conf"]].assign(
        cls=np.where(known, classes.fillna(0).to_numpy(), len(CLASS_NAMES)).astype(np.int64)
    )
    tracked = track_sequence(detections, config, frames=frames)
    names = {index: name for index, name in enumerate(CLASS_NAMES)}
    tracked["role"] = tracked["cls"].map(names).fillna(UNKNOWN_ROLE).astype("string")
    return tracked[list(MODEL_TRACK_COLUMNS)].reset_index(drop=True)


def keyframes_from_tracks(tracks: pd.DataFrame, *, frame_step: int = 1, tolerance_px: float = 1.0) -> pd.DataFrame:
    """Keyframes (``frame, track_id, role, x, y, w, h, outside, occluded``) that interpolate to ``tracks`` within
    ``tolerance_px``: per run of a track (frames ``frame_step`` apart), its simplified boxes, then an outside
    keyframe on the first frame after the run when the track is gone there. A track's role is its most frequent
    one."""
    rows: list[pd.DataFrame] = []
    for track_id, track in tracks.sort_values(["track_id", "frame"]).groupby("track_id", sort=True):
        frames = track["frame"].to_numpy()
        boxes = track[["x", "y", "w", "h"]].to_numpy(dtype="float64")
        role = track["role"].mode().iloc[0]
        breaks = np.flatnonzero(np.diff(frames) != frame_step) + 1
        for start, end in zip(np.r_[0, breaks], np.r_[breaks, len(frames)], strict=True):
            keep = start + simplify_track(boxes[start:end], tolerance_px)
            part = pd.DataFrame(boxes[keep], columns=["x", "y", "w", "h"]).assign(
                frame=frames[keep], track_id=track_id, role=role, outside=False
            )
            rows.append(part)
            if end < len(frames):  # the track comes back later: record that it is gone in between
                rows.append(
                    pd.DataFrame(
                        {"frame": [frames[end - 1] + frame_step], "track_id": [track_id], "role": [role]}
                        | {name: [np.nan] for name in ("x", "y", "w", "h")}
                        | {"outside": [True]}
                    )
                )
    if not rows:
        return pd.DataFrame(columns=["frame", "track_id", "role", "x", "y", "w", "h", "outside", "occluded"])
    keyframes = pd.concat(rows, ignore_index=True).assign(occluded=False)
    keyframes = keyframes.astype({"frame": "int64", "track_id": "int64", "outside": "bool", "role": "string"})
    columns = ["frame", "track_id", "role", "x", "y", "w", "h", "outside", "occluded"]
    return keyframes.sort_values(["frame", "track_id"], kind="stable").reset_index(drop=True)[columns]


def _empty_tracks() -> pd.DataFrame:
    dtypes = {"frame": "int64", "track_id": "int64", "role": "string"}
    return pd.DataFrame({name: pd.Series(dtype=dtypes.get(name, "float64")) for name in MODEL_TRACK_COLUMNS})
