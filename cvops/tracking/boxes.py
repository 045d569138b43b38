"""Box geometry shared by the tracker and the metrics.

Boxes are ``(x, y, w, h)`` in pixels with ``(x, y)`` the top-left corner, the MOT Challenge convention.
The IoU is hand-written (a dozen vectorised lines) rather than taken from TrackEval's private
``_BaseDataset._calculate_box_ious`` so that the tracker does not depend on a private evaluation API; it
follows the same rules (zero-area boxes overlap nothing), and a test checks the two agree.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

_EPS = float(np.finfo(float).eps)


def as_boxes(boxes: ArrayLike) -> NDArray[np.float64]:
    """``boxes`` as a float (N, 4) array; an empty input becomes shape (0, 4)."""
    if isinstance(boxes, np.ndarray) and boxes.dtype == np.float64 and boxes.ndim == 2 and boxes.shape[1] == 4:
        return boxes  # the tracker's own arrays, many times a frame: skip the conversions
    array = np.asarray(boxes, dtype=float)
    if array.size == 0:
        return np.zeros((0, 4))
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(f"boxes must have shape (N, 4), got {array.shape}")
    return array


def iou_xywh(boxes_a: ArrayLike, boxes_b: ArrayLike) -> NDArray[np.float64]:
    """Pairwise intersection over union, shape (len(a), len(b)); boxes with no area overlap nothing."""
    a = as_boxes(boxes_a)
    b = as_boxes(boxes_b)
    a_x1, a_y1 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    b_x1, b_y1 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    inter_w = np.minimum(a_x1[:, None], b_x1[None, :]) - np.maximum(a[:, None, 0], b[None, :, 0])
    inter_h = np.minimum(a_y1[:, None], b_y1[None, :]) - np.maximum(a[:, None, 1], b[None, :, 1])
    intersection = np.clip(inter_w, 0.0, None) * np.clip(inter_h, 0.0, None)
    area_a = a[:, 2] * a[:, 3]
    area_b = b[:, 2] * b[:, 3]
    union = area_a[:, None] + area_b[None, :] - intersection
    valid = (area_a[:, None] > _EPS) & (area_b[None, :] > _EPS) & (union > _EPS)
    return np.where(valid, intersection / np.where(valid, union, 1.0), 0.0)


def xywh_to_xyah(boxes: ArrayLike) -> NDArray[np.float64]:
    """Top-left boxes to ``(centre x, centre y, w/h, height)``, the Kalman filter's measurement space."""
    b = as_boxes(boxes)
    out = np.empty_like(b)
    height = b[:, 3]
    out[:, 0] = b[:, 0] + b[:, 2] / 2
    out[:, 1] = b[:, 1] + height / 2
    np.divide(b[:, 2], height, out=out[:, 2], where=height > 0)
    out[height <= 0, 2] = 0.0
    out[:, 3] = height
    return out


def xyah_to_xywh(states: ArrayLike) -> NDArray[np.float64]:
    """Inverse of :func:`xywh_to_xyah` (takes the first four state components, ignores velocities)."""
    s = np.atleast_2d(np.asarray(states, dtype=float))
    out = np.empty((len(s), 4))
    out[:, 2] = s[:, 2] * s[:, 3]
    out[:, 3] = s[:, 3]
    out[:, 0] = s[:, 0] - out[:, 2] / 2
    out[:, 1] = s[:, 1] - s[:, 3] / 2
    return out
