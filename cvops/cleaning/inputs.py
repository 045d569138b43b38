"""Checking and normalising the cleaning stage's inputs.

Cleaning runs unattended on every annotated match, so a bad input must never crash it: rows that cannot be
used are dropped and every drop is described in a message that ends up in the asset's metadata. Only a table
that is not the expected table at all (a missing column) raises, naming the match and the column.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cvops.errors import InputError

LABEL_COLUMNS = ("frame", "track_id", "role", "x", "y", "w", "h", "is_keyframe")
PREDICTION_COLUMNS = ("frame", "x", "y", "w", "h", "conf")
BOX_COLUMNS = ("x", "y", "w", "h")
REASON_INVALID_BOX = "invalid_box"
REASON_DUPLICATE = "duplicate"


@dataclass(frozen=True)
class VideoInfo:
    """What the cleaning needs to know about a match's video (from ``matches.csv``)."""

    n_frames: int
    width: int
    height: int
    fps: float = 25.0

    def __post_init__(self) -> None:
        if self.n_frames < 1 or self.width < 1 or self.height < 1 or not self.fps > 0:
            raise InputError(
                f"video info must be positive, got n_frames={self.n_frames}, width={self.width}, "
                f"height={self.height}, fps={self.fps}"
            )


def _require_columns(frame: pd.DataFrame, columns: tuple[str, ...], what: str, match_id: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"{what} lack column(s) {', '.join(missing)}; expected {', '.join(columns)}",
            field=missing[0],
            match_id=match_id,
        )


def _valid_boxes(frame: pd.DataFrame) -> pd.Series:
    boxes = frame[list(BOX_COLUMNS)].to_numpy(dtype="float64", na_value=np.nan)
    ok = np.isfinite(boxes).all(axis=1) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0)
    return pd.Series(ok, index=frame.index)


def prepare_labels(raw: pd.DataFrame, match_id: str) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Raw labels with exact dtypes, sorted by track and frame; the rows that cannot be used; messages.

    Unusable rows are returned with a ``reason`` so the caller records them as removals: ``invalid_box`` (not
    finite or no area) or ``duplicate`` (a second row for the same track and frame; ``interpolate_keyframes``
    never makes one, a hand-made table might, and the first row is kept).
    """
    _require_columns(raw, LABEL_COLUMNS, "raw labels", match_id)
    labels = raw[list(LABEL_COLUMNS)].copy()
    labels["frame"] = labels["frame"].astype("int64")
    labels["track_id"] = labels["track_id"].astype("int64")
    labels["role"] = labels["role"].astype("string").str.strip().str.lower()
    for name in BOX_COLUMNS:
        labels[name] = labels[name].astype("float64")
    labels["is_keyframe"] = labels["is_keyframe"].astype("bool")
    messages: list[str] = []
    if labels.empty:
        messages.append("no labels: the match has no tracks")
    ok = _valid_boxes(labels)
    invalid = labels[~ok].assign(reason=REASON_INVALID_BOX)
    if len(invalid):
        messages.append(f"{len(invalid)} label rows have a non-finite or empty box and were removed")
    labels = labels[ok].sort_values(["track_id", "frame"], kind="stable").reset_index(drop=True)
    duplicated = labels.duplicated(["track_id", "frame"], keep="first").to_numpy()
    duplicates = labels[duplicated].assign(reason=REASON_DUPLICATE)
    if len(duplicates):
        messages.append(f"{len(duplicates)} duplicate label rows (same track and frame) were removed")
        labels = labels[~duplicated].reset_index(drop=True)
    rejected = pd.concat([invalid, duplicates], ignore_index=True)
    return labels, rejected, messages


def prepare_predictions(
    predictions: pd.DataFrame | None, video: VideoInfo, match_id: str
) -> tuple[pd.DataFrame, list[str]]:
    """Predictions restricted to usable rows: finite boxes with area, inside the video, no exact duplicates."""
    empty = pd.DataFrame(
        {
            "frame": pd.Series(dtype="int64"),
            **{name: pd.Series(dtype="float64") for name in (*BOX_COLUMNS, "conf")},
        }
    )
    if predictions is None:
        return empty, ["no predictions for this match: sync is skipped and ghosts are found from labels alone"]
    columns = ("frame", *BOX_COLUMNS)
    _require_columns(predictions, columns, "predictions", match_id)
    preds = predictions[list(columns)].copy()
    preds["frame"] = preds["frame"].astype("int64")
    for name in BOX_COLUMNS:
        preds[name] = preds[name].astype("float64")
    preds["conf"] = predictions["conf"].astype("float64") if "conf" in predictions.columns else 1.0
    messages: list[str] = []
    ok = _valid_boxes(preds)
    if not ok.all():
        messages.append(f"{int((~ok).sum())} predictions with a non-finite or empty box were ignored")
    preds = preds[ok]
    inside = preds["frame"].between(1, video.n_frames)
    if not inside.all():
        messages.append(
            f"{int((~inside).sum())} predictions lie outside the video's frames 1..{video.n_frames} and were ignored"
        )
    preds = preds[inside]
    duplicated = preds.duplicated(["frame", *BOX_COLUMNS], keep="first")
    if duplicated.any():
        messages.append(f"{int(duplicated.sum())} duplicate predictions (same frame and box) were ignored")
        preds = preds[~duplicated]
    preds = preds.sort_values("frame", kind="stable").reset_index(drop=True)
    if preds.empty:
        messages.append("no usable predictions: sync is skipped and ghosts are found from labels alone")
    return preds, messages
