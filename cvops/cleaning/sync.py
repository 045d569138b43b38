"""Estimating the offset between label frames and video frames.

Convention (public, see ``docs/cleaning.md``): label frame ``f`` shows video frame ``f + offset``. The product
tolerates a frame or two of drift between its labels and the video, a trained model does not, so the offset is
estimated by comparing the labels with predictions (numbered in video frames by construction).

Two steps. A coarse search scores every integer shift by how well labels and predictions overlap (mean IoU under
a one-to-one assignment) and keeps the best. Then the motion refines it: for a moving player, a label that is
``d`` frames late sits ``d × velocity`` behind its prediction, so regressing the label-to-prediction displacement
on the labels' own velocity (known exactly: the labels are linear between keyframes) gives a sub-frame estimate
of the offset with a standard error. The shift is applied only when that estimate rounds to the coarse winner
and lies clearly away from zero: beyond ``min_abs_offset`` frames and more than ``min_z`` standard errors beyond
half a frame. Overlap alone cannot tell a one-frame shift from noise on a short, slow or noisy match (its gain is
a few thousandths of IoU); the motion can, because every moving player votes with its velocity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cvops.cleaning.inputs import BOX_COLUMNS, VideoInfo
from cvops.cleaning.matching import FrameAssignment, assign_per_frame

# Refinement: boxes slower than this (px/frame) carry no timing information; fewer pairs than this are too few;
# residuals beyond this many robust scales are wrong pairings.
_MIN_SPEED_PX = 0.05
_MIN_PAIRS = 30
_OUTLIER_SCALES = 4.0


@dataclass(frozen=True)
class SyncConfig:
    """How the offset is searched and when it is trusted.

    Attributes:
        max_offset: candidates are every integer shift in ``[-max_offset, max_offset]``.
        sample_frames: at most this many label frames, evenly spread over the match, are scored (a few
            thousand frames settle even a one-frame shift; more only costs time on long matches).
        min_abs_offset: the refined (sub-frame) offset must be at least this many frames from zero for a
            shift to be applied. The refinement has a small bias of its own (curved motion between keyframes):
            on the synthetic benchmark, within 0.16 frames of the truth on default data and within 0.4 on very
            noisy labels. 0.65 rather than 0.5 leans towards leaving a match alone: a missed one-frame shift on
            very noisy labels is preferred to shifting a match that was in sync.
        min_z: ... and more than half a frame from zero by at least this many standard errors.
        min_iou: label/prediction pairs overlapping less than this do not count in the coarse search.
        refine_min_iou: pairs used by the refinement must overlap at least this much (surely the same
            player).
        roles: label roles compared with predictions (people: a detector's ball boxes are too small and
            rare to align anything).
    """

    max_offset: int = 5
    sample_frames: int = 2000
    min_abs_offset: float = 0.65
    min_z: float = 3.0
    min_iou: float = 0.1
    refine_min_iou: float = 0.3
    roles: tuple[str, ...] = ("player", "goalkeeper", "referee")


@dataclass(frozen=True)
class SyncEstimate:
    """The outcome of the offset search.

    ``offset`` is the shift in effect (cleaned frame = label frame + offset): ``best_offset`` when
    ``applied``, else 0. ``score`` is the best candidate's score, ``score_at_zero`` the score without a shift
    (mean IoU of the labelled people with their assigned predictions); both are NaN when nothing could be
    compared (no predictions over the labelled frames). ``refined_offset`` is the sub-frame estimate and
    ``z`` how many standard errors it lies beyond half a frame from zero (NaN when not measurable).
    """

    offset: int
    best_offset: int
    score: float
    score_at_zero: float
    applied: bool
    n_frames_used: int
    refined_offset: float = float("nan")
    z: float = float("nan")
    scores: dict[int, float] = field(default_factory=dict)
    message: str = ""


def _sample_evenly(values: np.ndarray, count: int) -> np.ndarray:
    if len(values) <= count:
        return values
    return values[np.unique(np.linspace(0, len(values) - 1, count).round().astype(np.int64))]


def estimate_offset(
    labels: pd.DataFrame, predictions: pd.DataFrame, video: VideoInfo, config: SyncConfig | None = None
) -> SyncEstimate:
    """Find the shift ``k`` in ``[-K, K]`` under which label frame ``f`` best matches video frame ``f + k``.

    ``labels`` must be sorted by track and frame (as ``prepare_labels`` returns them). The coarse score of a
    shift is the mean, over the labelled people of the sampled frames, of the IoU of the prediction each is
    assigned to (Hungarian per frame, 0 when unassigned). Every shift is scored on the same label frames, chosen
    so that ``f + k`` lies inside the predictions' frame range for every ``k``: comparing shifts on different
    frames would let frame content, not alignment, decide. Ties go to the smaller shift. See the module
    docstring for the refinement and the decision.
    """
    config = config or SyncConfig()
    k_max = max(int(config.max_offset), 0)
    people = labels[labels["role"].isin(config.roles)]
    if predictions.empty or people.empty:
        what = "no predictions" if predictions.empty else "no labelled people"
        return _not_estimated(f"sync not estimated: {what}; offset 0 kept")
    first = max(1, int(predictions["frame"].min())) + k_max
    last = min(video.n_frames, int(predictions["frame"].max())) - k_max
    label_frames = np.unique(people["frame"].to_numpy())
    eligible = label_frames[(label_frames >= first) & (label_frames <= last)]
    if eligible.size == 0:
        return _not_estimated(
            "sync not estimated: the predictions' frames do not overlap the labelled frames; offset 0 kept"
        )
    sampled = _sample_evenly(eligible, config.sample_frames)
    in_sample = people["frame"].isin(sampled).to_numpy()
    frames = people["frame"].to_numpy(dtype=np.int64)[in_sample]
    boxes = people[list(BOX_COLUMNS)].to_numpy(dtype=np.float64)[in_sample]
    velocity = _label_velocity(people)[in_sample]
    window = predictions[predictions["frame"].between(int(sampled.min()) - k_max, int(sampled.max()) + k_max)]
    pred_frames = window["frame"].to_numpy(dtype=np.int64)
    pred_boxes = window[list(BOX_COLUMNS)].to_numpy(dtype=np.float64)

    scores: dict[int, float] = {}
    for k in range(-k_max, k_max + 1):
        assigned = assign_per_frame(frames + k, boxes, pred_frames, pred_boxes, min_iou=config.min_iou)
        scores[k] = float(assigned.iou.mean())
    best = min(scores, key=lambda k: (-scores[k], abs(k), k))
    at_best = assign_per_frame(frames + best, boxes, pred_frames, pred_boxes, min_iou=config.refine_min_iou)
    refined, z = _refine(best, boxes, velocity, at_best, pred_boxes)

    consistent = not math.isnan(refined) and round(refined) == best
    applied = best != 0 and consistent and abs(refined) >= config.min_abs_offset and z >= config.min_z
    shown = f"score {scores[best]:.3f} vs {scores[0]:.3f} at 0, refined offset {refined:+.2f}, z={z:.1f}"
    if applied:
        message = f"offset {best:+d} applied ({shown})"
    elif best == 0 and consistent:
        message = f"offset 0 fits best ({shown})"
    elif math.isnan(refined):
        message = f"too few moving players matched to confirm offset {best:+d} ({shown}); offset 0 kept"
    elif not consistent:
        message = f"overlap and motion disagree ({best:+d} by overlap; {shown}); offset 0 kept"
    else:
        message = (
            f"offset {best:+d} fits best but not clearly ({shown}; min_abs_offset={config.min_abs_offset}, "
            f"min_z={config.min_z}); offset 0 kept"
        )
    return SyncEstimate(
        offset=best if applied else 0,
        best_offset=best,
        score=scores[best],
        score_at_zero=scores[0],
        applied=applied,
        n_frames_used=len(sampled),
        refined_offset=refined,
        z=z,
        scores=scores,
        message=message,
    )


def _label_velocity(people: pd.DataFrame) -> np.ndarray:
    """Per row, the box centre's velocity in px per frame (central difference within the track, else one-sided).

    ``people`` is sorted by track and frame. Between keyframes the labels are linear, so this is exact there.
    """
    centres = people[["x", "y"]].to_numpy(dtype=np.float64) + people[["w", "h"]].to_numpy(dtype=np.float64) / 2
    tracks = people["track_id"].to_numpy()
    frames = people["frame"].to_numpy()
    follows = np.r_[False, (tracks[1:] == tracks[:-1]) & (frames[1:] == frames[:-1] + 1)]
    precedes = np.r_[follows[1:], False]
    before = np.vstack([centres[:1], centres[:-1]])
    after = np.vstack([centres[1:], centres[-1:]])
    one_sided = np.where(precedes[:, None], after - centres, np.where(follows[:, None], centres - before, 0.0))
    return np.where((follows & precedes)[:, None], (after - before) / 2, one_sided)


def _refine(
    best: int, boxes: np.ndarray, velocity: np.ndarray, assigned: FrameAssignment, pred_boxes: np.ndarray
) -> tuple[float, float]:
    """Sub-frame offset, and how many standard errors it lies beyond half a frame from zero (NaN if unknown).

    Under shift ``best``, a label whose true shift is ``k`` sits ``(best - k) × velocity`` behind its prediction,
    so the least-squares slope ``d`` of the displacement on the velocity gives ``k = best - d``. Pairs whose
    residual is far off (a wrong pairing, a box cut by the border) are dropped by a robust scale (MAD), twice.
    """
    moving = assigned.matched & (np.hypot(velocity[:, 0], velocity[:, 1]) >= _MIN_SPEED_PX)
    if moving.sum() < _MIN_PAIRS:
        return float("nan"), float("nan")
    matched = pred_boxes[assigned.prediction[moving]]
    labelled = boxes[moving]
    displacement = (matched[:, :2] + matched[:, 2:] / 2) - (labelled[:, :2] + labelled[:, 2:] / 2)
    v = velocity[moving]
    keep = np.ones(len(v), dtype=bool)
    for _ in range(2):
        slope = float((v[keep] * displacement[keep]).sum() / (v[keep] ** 2).sum())
        residual = displacement - v * slope
        scale = 1.4826 * np.median(np.abs(residual[keep]), axis=0)
        keep = (np.abs(residual) <= _OUTLIER_SCALES * np.maximum(scale, 1e-6)).all(axis=1)
        if keep.sum() < _MIN_PAIRS:
            return float("nan"), float("nan")
    slope = float((v[keep] * displacement[keep]).sum() / (v[keep] ** 2).sum())
    residual = displacement[keep] - v[keep] * slope
    variance = float((residual**2).sum()) / (residual.size - 1)
    standard_error = math.sqrt(variance / float((v[keep] ** 2).sum()))
    refined = best - slope
    return refined, (abs(refined) - 0.5) / standard_error if standard_error > 0 else math.inf


def _not_estimated(message: str) -> SyncEstimate:
    return SyncEstimate(
        offset=0,
        best_offset=0,
        score=float("nan"),
        score_at_zero=float("nan"),
        applied=False,
        n_frames_used=0,
        message=message,
    )
