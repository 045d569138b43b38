"""Cost matrices and thresholded Hungarian assignment for track-detection association."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from cvops.tracking.boxes import iou_xywh

# Stands in for "cannot match" inside the solver: any value above every accepted cost works, because such
# pairs are dropped after solving; a finite value keeps linear_sum_assignment from rejecting the matrix.
_FORBIDDEN = 1e4


@dataclass(frozen=True)
class Assignment:
    """Row (track) and column (detection) indices into the cost matrix that was solved."""

    matches: NDArray[np.intp]
    """(K, 2) pairs ``(row, column)``."""
    unmatched_rows: NDArray[np.intp]
    unmatched_columns: NDArray[np.intp]


def assign(cost: NDArray[np.float64], max_cost: float) -> Assignment:
    """Minimum-cost one-to-one assignment keeping only pairs with ``cost <= max_cost``.

    ``inf`` or ``nan`` entries mark pairs that may never match (other class, outside the motion gate).
    """
    n_rows, n_columns = cost.shape
    if n_rows == 0 or n_columns == 0:
        return Assignment(np.zeros((0, 2), dtype=np.intp), np.arange(n_rows), np.arange(n_columns))
    allowed = cost <= max_cost  # False for inf and nan too
    rows, columns = linear_sum_assignment(np.where(allowed, cost, _FORBIDDEN))
    keep = allowed[rows, columns]
    matches = np.column_stack([rows[keep], columns[keep]]).astype(np.intp)
    row_free = np.ones(n_rows, dtype=bool)
    row_free[matches[:, 0]] = False
    column_free = np.ones(n_columns, dtype=bool)
    column_free[matches[:, 1]] = False
    return Assignment(matches, np.flatnonzero(row_free), np.flatnonzero(column_free))


def class_mismatch(track_classes: NDArray[np.int64], detection_classes: NDArray[np.int64]) -> NDArray[np.bool_]:
    """(T, D) mask of pairs whose classes differ: a player track never takes a ball detection."""
    return track_classes[:, None] != detection_classes[None, :]


def iou_cost(
    track_boxes: NDArray[np.float64],
    track_classes: NDArray[np.int64],
    detection_boxes: NDArray[np.float64],
    detection_classes: NDArray[np.int64],
) -> NDArray[np.float64]:
    """``1 - IoU`` between predicted track boxes and detections, ``inf`` across classes."""
    cost = 1.0 - iou_xywh(track_boxes, detection_boxes)
    cost[class_mismatch(track_classes, detection_classes)] = np.inf
    return cost


def cosine_distance(track_embeddings: NDArray[np.float64], detection_embeddings: NDArray[np.float64]) -> NDArray:
    """``1 - cos`` of L2-normalised embeddings, in ``[0, 2]``."""
    return np.clip(1.0 - track_embeddings @ detection_embeddings.T, 0.0, 2.0)


def iou_with_appearance(
    iou_distance: NDArray[np.float64],
    appearance_cost: NDArray[np.float64],
    min_iou: float,
    max_appearance_cost: float,
) -> NDArray[np.float64]:
    """BoT-SORT's cost: ``1 - IoU``, lowered to half the appearance cost for pairs whose boxes overlap by more
    than ``min_iou`` and whose appearance cost is below ``max_appearance_cost``.

    Appearance can only make a nearby pair cheaper, never pull a track to a far box, so a re-ID model that
    cannot tell look-alikes apart (teammates in one kit, a model trained for minutes) does no harm, and one
    that can breaks the ties between overlapping boxes. ``inf`` in ``iou_distance`` (other class) stays.
    """
    close = (iou_distance < 1.0 - min_iou) & (appearance_cost < max_appearance_cost)
    return np.minimum(iou_distance, np.where(close, 0.5 * appearance_cost, np.inf))


def fuse_motion(
    appearance_cost: NDArray[np.float64],
    gating_distances: NDArray[np.float64],
    gate: float,
    embedding_weight: float,
) -> NDArray[np.float64]:
    """FairMOT's fused cost: appearance plus a little motion, forbidden outside the Kalman gate.

    FairMOT adds the raw squared Mahalanobis distance; here it is divided by the gate first so that the motion
    term lies in ``[0, 1]`` like the cosine distance and ``embedding_weight`` reads as a true mixing weight.
    """
    cost = embedding_weight * appearance_cost + (1.0 - embedding_weight) * gating_distances / gate
    return np.where(gating_distances > gate, np.inf, cost)
