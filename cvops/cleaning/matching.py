"""Frame-by-frame assignment of label boxes to predicted boxes.

Every cleaning rule compares the labels with a model's predictions frame by frame, so this is the one place
that does it. Within a frame the assignment is one-to-one (Hungarian,
``scipy.optimize.linear_sum_assignment``): a prediction that explains one label cannot also vouch for a second
label lying on top of it, which is exactly the situation of a ghost box drifting past a real player.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from cvops.tracking.boxes import iou_xywh


@dataclass(frozen=True)
class FrameAssignment:
    """Per label row: the IoU of its assigned prediction and that prediction's index (-1 and 0.0 if none)."""

    iou: NDArray[np.float64]
    prediction: NDArray[np.int64]

    @property
    def matched(self) -> NDArray[np.bool_]:
        return self.prediction >= 0


def frame_slices(frames: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Sort order, distinct frames and their start offsets in that order (plus the end), for per-frame loops."""
    order = np.argsort(frames, kind="stable")
    sorted_frames = frames[order]
    distinct, starts = np.unique(sorted_frames, return_index=True)
    return order, distinct, np.r_[starts, len(frames)].astype(np.int64)


def assign_per_frame(
    label_frames: NDArray[np.int64],
    label_boxes: NDArray[np.float64],
    prediction_frames: NDArray[np.int64],
    prediction_boxes: NDArray[np.float64],
    *,
    min_iou: float,
) -> FrameAssignment:
    """Assign each label row to at most one prediction of the same frame, maximising the summed IoU.

    Pairs below ``min_iou`` are worth nothing to the solver and are never reported, so a weak overlap never
    steals a prediction from a label that overlaps it well. ``label_frames`` and ``prediction_frames`` must be
    in the same numbering (shift label frames by the sync offset before calling).
    """
    n_labels = len(label_frames)
    iou = np.zeros(n_labels, dtype=np.float64)
    prediction = np.full(n_labels, -1, dtype=np.int64)
    if n_labels == 0 or len(prediction_frames) == 0:
        return FrameAssignment(iou, prediction)
    label_order, label_distinct, label_starts = frame_slices(label_frames)
    pred_order = np.argsort(prediction_frames, kind="stable")
    pred_sorted = prediction_frames[pred_order]
    pred_lo = np.searchsorted(pred_sorted, label_distinct, side="left")
    pred_hi = np.searchsorted(pred_sorted, label_distinct, side="right")
    for i in np.flatnonzero(pred_hi > pred_lo):
        rows = label_order[label_starts[i] : label_starts[i + 1]]
        preds = pred_order[pred_lo[i] : pred_hi[i]]
        overlap = iou_xywh(label_boxes[rows], prediction_boxes[preds])
        gain = np.where(overlap >= min_iou, overlap, 0.0)
        if not gain.any():
            continue
        r, c = linear_sum_assignment(gain, maximize=True)
        keep = gain[r, c] > 0.0
        iou[rows[r[keep]]] = overlap[r[keep], c[keep]]
        prediction[rows[r[keep]]] = preds[c[keep]]
    return FrameAssignment(iou, prediction)


def max_cover_by_others(frames: NDArray[np.int64], boxes: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per row: the largest share of its box area covered by another box of the same frame (0 when alone).

    A label whose box is mostly covered by another label is occluded: a detector is expected to miss it, so a
    missing prediction there is no evidence against the label.
    """
    cover = np.zeros(len(frames), dtype=np.float64)
    if len(frames) == 0:
        return cover
    order, _, starts = frame_slices(frames)
    x0, y0 = boxes[:, 0], boxes[:, 1]
    x1, y1 = x0 + boxes[:, 2], y0 + boxes[:, 3]
    area = boxes[:, 2] * boxes[:, 3]
    for i in np.flatnonzero(np.diff(starts) > 1):
        rows = order[starts[i] : starts[i + 1]]
        inter_w = np.minimum(x1[rows, None], x1[None, rows]) - np.maximum(x0[rows, None], x0[None, rows])
        inter_h = np.minimum(y1[rows, None], y1[None, rows]) - np.maximum(y0[rows, None], y0[None, rows])
        inter = np.clip(inter_w, 0.0, None) * np.clip(inter_h, 0.0, None)
        np.fill_diagonal(inter, 0.0)
        own = area[rows]
        cover[rows] = np.divide(inter.max(axis=1), own, out=np.zeros(len(rows)), where=own > 0)
    return cover
