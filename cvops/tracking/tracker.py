"""Online multi-object tracker: ByteTrack's two-score association with FairMOT's appearance stage.

Per frame, in order:

1. every live track is advanced by the Kalman filter, then moved with the camera when the frame's camera motion
   is given (BoT-SORT's compensation; ``cvops.tracking.camera_motion`` measures it);
2. **high-score stage**: detections scoring ``>= high_score`` are matched to confirmed tracks, tracked or
   lost, on a fused cost (embedding cosine distance plus a small Mahalanobis term, forbidden outside the
   Kalman gate). Tracked tracks whose appearance did not match get one more chance by IoU
   (``min_iou_rescue``). Frames without embeddings use IoU alone here. Where this stage matches by overlap
   (no embeddings, or ``first_stage="botsort"``), lost tracks it left get a **re-find**: the high-score
   detections still free are matched to them by Mahalanobis distance within ``refind_gate_probability``;
3. **low-score stage** (ByteTrack): detections in ``[low_score, high_score)`` are matched by IoU only to
   tracks still unmatched that were tracked in the previous frame; their embeddings are not learned
   (occluded boxes give polluted appearance). Tracked tracks left unmatched become *lost*;
4. **tentative tracks** (born but not yet confirmed) are matched by IoU to the remaining high-score
   detections; a tentative track that misses a frame is dropped;
5. **birth**: remaining detections scoring ``>= new_track_score`` start tentative tracks (confirmed at once in
   the first frame, so a sequence's opening objects are not lost);
6. **death**: lost tracks unmatched for more than ``max_lost`` frames are removed.

Every stage solves a Hungarian assignment with a cost threshold, and a track only ever matches detections of
its own class, unless ``match_across_classes`` is set for classes that are roles of one kind of object (player,
goalkeeper, referee): then a track's class is the one its detections gave the most score to (ties go to the
class seen first in the sequence). The matches of all stages update their tracks together at the end of the
frame, in one batched Kalman update. Reported per frame: confirmed tracks matched in that frame, with their
Kalman-corrected boxes or their detections' own (``reported_boxes``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cvops.errors import InputError
from cvops.tracking.boxes import xyah_to_xywh, xywh_to_xyah
from cvops.tracking.config import TrackerConfig
from cvops.tracking.kalman import KalmanBoxFilter, chi2_gate, warp_states
from cvops.tracking.matching import (
    assign,
    class_mismatch,
    cosine_distance,
    fuse_motion,
    iou_cost,
    iou_with_appearance,
)


class TrackState(enum.Enum):
    TENTATIVE = "tentative"
    TRACKED = "tracked"
    LOST = "lost"


# States as small integers in the track table; TrackState is what callers see.
_TENTATIVE, _TRACKED, _LOST = 0, 1, 2
_STATES = (TrackState.TENTATIVE, TrackState.TRACKED, TrackState.LOST)


@dataclass(frozen=True)
class Track:
    """A snapshot of one live track's filter state and appearance (:attr:`OnlineTracker.tracks`)."""

    track_id: int
    cls: int
    """The class its detections gave the most score to (the birth class unless ``match_across_classes``)."""
    class_scores: dict[int, float]
    mean: NDArray[np.float64]
    covariance: NDArray[np.float64]
    score: float
    embedding: NDArray[np.float64] | None
    state: TrackState
    hits: int
    start_frame: int
    last_frame: int

    @property
    def box(self) -> NDArray[np.float64]:
        """Current ``(x, y, w, h)`` estimate."""
        return xyah_to_xywh(self.mean)[0]


@dataclass(frozen=True)
class FrameTracks:
    """The confirmed tracks seen in one frame, as parallel arrays sorted by track id."""

    track_ids: NDArray[np.int64]
    boxes: NDArray[np.float64]
    scores: NDArray[np.float64]
    classes: NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.track_ids)


@dataclass(frozen=True)
class _Detections:
    boxes: NDArray[np.float64]
    measurements: NDArray[np.float64]
    scores: NDArray[np.float64]
    classes: NDArray[np.int64]
    embeddings: NDArray[np.float64] | None


class _TrackTable:
    """Every live track as one row of parallel arrays, in track-id order.

    Rows rather than one object per track: each association stage works on index arrays into these, and the
    Kalman predict, update and camera warp run once per frame over all rows (a per-track object cost the tracker
    most of its time in Python-level calls).
    """

    def __init__(self) -> None:
        self.ids = np.zeros(0, dtype=np.int64)
        self.mean = np.zeros((0, 8))
        self.covariance = np.zeros((0, 8, 8))
        self.score = np.zeros(0)
        self.state = np.zeros(0, dtype=np.int8)
        self.hits = np.zeros(0, dtype=np.int64)
        self.start_frame = np.zeros(0, dtype=np.int64)
        self.last_frame = np.zeros(0, dtype=np.int64)
        self.cls = np.zeros(0, dtype=np.int64)
        self.class_scores = np.zeros((0, 0))
        """Score given to each class of :attr:`class_ids` (columns) by the track's detections."""
        self.class_ids: list[int] = []
        self._class_columns: dict[int, int] = {}
        self.detection_box = np.zeros((0, 4))
        """The box of the detection last matched (what ``reported_boxes="detection"`` reports)."""
        self.embedding: NDArray[np.float64] | None = None
        self.has_embedding = np.zeros(0, dtype=bool)

    def __len__(self) -> int:
        return len(self.ids)

    def _columns(self) -> list[str]:
        names = ["ids", "mean", "covariance", "score", "state", "hits", "start_frame", "last_frame", "cls"]
        names += ["class_scores", "detection_box", "has_embedding"]
        return [*names, "embedding"] if self.embedding is not None else names

    def keep(self, mask: NDArray[np.bool_]) -> None:
        """Drop the rows where ``mask`` is False."""
        if mask.all():
            return
        for name in self._columns():
            setattr(self, name, getattr(self, name)[mask])

    def append(self, rows: _TrackTable) -> None:
        for name in self._columns():
            setattr(self, name, np.concatenate([getattr(self, name), getattr(rows, name)]))

    def class_columns(self, classes: NDArray[np.int64]) -> NDArray[np.intp]:
        """The :attr:`class_scores` column of each class, adding columns for classes not seen before."""
        values = classes.tolist()
        for cls in set(values) - self._class_columns.keys():
            self._class_columns[cls] = len(self.class_ids)
            self.class_ids.append(cls)
            self.class_scores = np.pad(self.class_scores, ((0, 0), (0, 1)))
        lookup = self._class_columns
        return np.fromiter((lookup[c] for c in values), dtype=np.intp, count=len(values))

    def snapshot(self, row: int) -> Track:
        scores = self.class_scores[row]
        return Track(
            track_id=int(self.ids[row]),
            cls=int(self.cls[row]),
            class_scores={cls: float(scores[c]) for c, cls in enumerate(self.class_ids) if scores[c] > 0},
            mean=self.mean[row].copy(),
            covariance=self.covariance[row].copy(),
            score=float(self.score[row]),
            embedding=None if self.embedding is None or not self.has_embedding[row] else self.embedding[row].copy(),
            state=_STATES[self.state[row]],
            hits=int(self.hits[row]),
            start_frame=int(self.start_frame[row]),
            last_frame=int(self.last_frame[row]),
        )


@dataclass
class _Matches:
    """The (track row, detection index) pairs of one frame's stages, applied together at the end of the frame."""

    rows: list[NDArray[np.intp]] = field(default_factory=list)
    detections: list[NDArray[np.intp]] = field(default_factory=list)
    learn_appearance: list[NDArray[np.bool_]] = field(default_factory=list)

    def add(self, rows: NDArray[np.intp], detections: NDArray[np.intp], *, learn_appearance: bool) -> None:
        self.rows.append(rows)
        self.detections.append(detections)
        self.learn_appearance.append(np.full(len(rows), learn_appearance))


class OnlineTracker:
    """Call :meth:`update` once per frame, in order, including frames without detections (lost tracks age)."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config if config is not None else TrackerConfig()
        self._kalman = KalmanBoxFilter(
            self.config.kalman_position_weight,
            self.config.kalman_velocity_weight,
            self.config.kalman_measurement_weight,
            (self.config.kalman_aspect_noise, self.config.kalman_aspect_velocity_noise),
        )
        self._gate = chi2_gate(self.config.gate_probability)
        self._refind_gate = chi2_gate(self.config.refind_gate_probability) if self.config.refind_gate_probability else 0
        self.reset()

    def reset(self) -> None:
        """Forget every track and restart ids at 1 (ids are per tracker instance, never global)."""
        self._table = _TrackTable()
        self._next_id = 1
        self._frame = 0
        self._embedding_dim: int | None = None

    @property
    def frames_seen(self) -> int:
        return self._frame

    @property
    def tracks(self) -> tuple[Track, ...]:
        """Snapshots of the live tracks in every state (tentative, tracked, lost), in id order."""
        return tuple(self._table.snapshot(row) for row in range(len(self._table)))

    def update(
        self,
        boxes: ArrayLike,
        scores: ArrayLike,
        classes: ArrayLike,
        embeddings: ArrayLike | None = None,
        *,
        camera_motion: ArrayLike | None = None,
    ) -> FrameTracks:
        """Associate one frame's detections (N, 4 xywh; N scores; N int classes; N, D embeddings or None).

        ``camera_motion``: the (2, 3) affine transform from the previous frame's pixels to this frame's (a camera
        pan or zoom, see :mod:`cvops.tracking.camera_motion`); every track's prediction is moved by it before
        association, as BoT-SORT's camera-motion compensation does. ``None``: a static camera.
        """
        self._frame += 1
        detections = self._validate(boxes, scores, classes, embeddings)
        self._predict(None if camera_motion is None else _affine(camera_motion))
        cfg = self.config
        table = self._table
        if table.embedding is None and detections.embeddings is not None and self._embedding_dim is not None:
            table.embedding = np.zeros((len(table), self._embedding_dim))
        predicted_boxes = xyah_to_xywh(table.mean) if len(table) else np.zeros((0, 4))
        high = np.flatnonzero(detections.scores >= cfg.high_score)
        low = np.flatnonzero((detections.scores >= cfg.low_score) & (detections.scores < cfg.high_score))
        confirmed = np.flatnonzero(table.state != _TENTATIVE)
        tentative = np.flatnonzero(table.state == _TENTATIVE)
        matches = _Matches()

        high, unmatched = self._match_high(confirmed, detections, high, predicted_boxes, matches)
        if cfg.refind_gate_probability > 0 and (detections.embeddings is None or cfg.first_stage == "botsort"):
            # FairMOT's first stage already priced lost tracks by appearance: a motion-only second look would
            # overrule it.
            high = self._refind_lost(unmatched[table.state[unmatched] == _LOST], detections, high, matches)
        still_tracked = unmatched[table.state[unmatched] == _TRACKED]
        _, not_extended = self._match_iou(
            still_tracked, detections, low, cfg.min_iou_low, predicted_boxes, matches, learn_appearance=False
        )
        high, _ = self._match_iou(
            tentative, detections, high, cfg.min_iou_tentative, predicted_boxes, matches, learn_appearance=True
        )
        self._apply(detections, matches)
        table.state[not_extended] = _LOST
        self._start_tracks(detections, high[detections.scores[high] >= cfg.new_track_score])
        self._drop_dead()
        return self._report()

    # -- association stages ------------------------------------------------------------------------

    def _match_high(
        self,
        rows: NDArray[np.intp],
        detections: _Detections,
        candidates: NDArray[np.intp],
        boxes: NDArray[np.float64],
        matches: _Matches,
    ) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """First stage; returns the detections and the track rows it left unmatched."""
        cfg = self.config
        if detections.embeddings is None:
            return self._match_iou(
                rows, detections, candidates, cfg.min_iou_first, boxes, matches, learn_appearance=True
            )
        if cfg.first_stage == "botsort":
            result = assign(self._iou_appearance_cost(rows, detections, candidates, boxes), 1.0 - cfg.min_iou_first)
        else:
            result = assign(self._fused_cost(rows, detections, candidates), cfg.max_embedding_cost)
        matches.add(rows[result.matches[:, 0]], candidates[result.matches[:, 1]], learn_appearance=True)
        remaining = candidates[result.unmatched_columns]
        unmatched = rows[result.unmatched_rows]
        states = self._table.state[unmatched]
        remaining, not_rescued = self._match_iou(
            unmatched[states == _TRACKED],
            detections,
            remaining,
            cfg.min_iou_rescue,
            boxes,
            matches,
            learn_appearance=True,
        )
        return remaining, np.concatenate([not_rescued, unmatched[states == _LOST]])

    def _refind_lost(
        self, rows: NDArray[np.intp], detections: _Detections, candidates: NDArray[np.intp], matches: _Matches
    ) -> NDArray[np.intp]:
        """Lost tracks to the high-score detections nothing took, by Mahalanobis distance within the gate."""
        if len(rows) == 0 or len(candidates) == 0:
            return candidates
        table = self._table
        distances = (
            self._kalman.gating_distances(table.mean[rows], table.covariance[rows], detections.measurements[candidates])
            / self._refind_gate
        )
        distances[class_mismatch(*self._association_classes(rows, detections, candidates))] = np.inf
        result = assign(distances, 1.0)
        matches.add(rows[result.matches[:, 0]], candidates[result.matches[:, 1]], learn_appearance=True)
        return candidates[result.unmatched_columns]

    def _match_iou(
        self,
        rows: NDArray[np.intp],
        detections: _Detections,
        candidates: NDArray[np.intp],
        min_iou: float,
        boxes: NDArray[np.float64],
        matches: _Matches,
        *,
        learn_appearance: bool,
    ) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """Match by IoU alone; returns the detections and the track rows left unmatched."""
        if len(rows) == 0 or len(candidates) == 0:
            return candidates, rows
        result = assign(self._iou_cost(rows, detections, candidates, boxes), 1.0 - min_iou)
        matches.add(rows[result.matches[:, 0]], candidates[result.matches[:, 1]], learn_appearance=learn_appearance)
        return candidates[result.unmatched_columns], rows[result.unmatched_rows]

    def _iou_cost(
        self, rows: NDArray[np.intp], detections: _Detections, candidates: NDArray[np.intp], boxes: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        track_classes, detection_classes = self._association_classes(rows, detections, candidates)
        return iou_cost(boxes[rows], track_classes, detections.boxes[candidates], detection_classes)

    def _association_classes(
        self, rows: NDArray[np.intp], detections: _Detections, candidates: NDArray[np.intp]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """The classes that must agree for a track and a detection to match: their own, or one shared class
        when ``match_across_classes`` (a role that flickers between frames must not break a track)."""
        if self.config.match_across_classes:
            return np.zeros(len(rows), dtype=np.int64), np.zeros(len(candidates), dtype=np.int64)
        return self._table.cls[rows], detections.classes[candidates]

    def _appearance_distances(
        self, rows: NDArray[np.intp], detections: _Detections, candidates: NDArray[np.intp]
    ) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
        """The positions in ``rows`` of the tracks that have an appearance yet, and their cosine distances to the
        candidates (tracks born in frames without embeddings have none)."""
        assert detections.embeddings is not None
        table = self._table
        with_appearance = np.flatnonzero(table.has_embedding[rows])
        if len(with_appearance) == 0 or len(candidates) == 0 or table.embedding is None:
            return with_appearance, np.zeros((len(with_appearance), len(candidates)))
        stacked = table.embedding[rows[with_appearance]]
        return with_appearance, cosine_distance(stacked, detections.embeddings[candidates])

    def _iou_appearance_cost(
        self, rows: NDArray[np.intp], detections: _Detections, candidates: NDArray[np.intp], boxes: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        appearance = np.ones((len(rows), len(candidates)))
        with_appearance, distances = self._appearance_distances(rows, detections, candidates)
        appearance[with_appearance] = distances
        cfg = self.config
        return iou_with_appearance(
            self._iou_cost(rows, detections, candidates, boxes),
            appearance,
            cfg.appearance_min_iou,
            cfg.appearance_max_cost,
        )

    def _fused_cost(
        self, rows: NDArray[np.intp], detections: _Detections, candidates: NDArray[np.intp]
    ) -> NDArray[np.float64]:
        cost = np.full((len(rows), len(candidates)), np.inf)
        with_appearance, appearance = self._appearance_distances(rows, detections, candidates)
        if len(with_appearance) == 0 or len(candidates) == 0:
            return cost  # tracks without an appearance are left to the IoU rescue
        chosen = rows[with_appearance]
        gating = self._kalman.gating_distances(
            self._table.mean[chosen], self._table.covariance[chosen], detections.measurements[candidates]
        )
        cost[with_appearance] = fuse_motion(appearance, gating, self._gate, self.config.embedding_weight)
        cost[class_mismatch(*self._association_classes(rows, detections, candidates))] = np.inf
        return cost

    # -- track life cycle --------------------------------------------------------------------------

    def _apply(self, detections: _Detections, matches: _Matches) -> None:
        """Update every track matched in this frame at once: filter, score, class vote, appearance, state."""
        if not matches.rows:
            return
        rows = np.concatenate(matches.rows)
        if len(rows) == 0:
            return
        columns = np.concatenate(matches.detections)
        table = self._table
        table.mean[rows], table.covariance[rows] = self._kalman.update(
            table.mean[rows], table.covariance[rows], detections.measurements[columns]
        )
        scores = detections.scores[columns]
        table.score[rows] = scores
        table.detection_box[rows] = detections.boxes[columns]
        class_columns = table.class_columns(detections.classes[columns])  # may add columns: before indexing
        table.class_scores[rows, class_columns] += scores
        table.cls[rows] = np.asarray(table.class_ids, dtype=np.int64)[np.argmax(table.class_scores[rows], axis=1)]
        table.last_frame[rows] = self._frame
        table.hits[rows] += 1
        if detections.embeddings is not None:
            learn = np.concatenate(matches.learn_appearance)
            self._learn_appearance(rows[learn], detections.embeddings[columns[learn]])
        confirmed = (table.state[rows] == _LOST) | (table.hits[rows] >= self.config.confirm_hits)
        table.state[rows[confirmed]] = _TRACKED

    def _learn_appearance(self, rows: NDArray[np.intp], new: NDArray[np.float64]) -> None:
        """EMA of the appearance, re-normalised so cosine distances stay in range; a first appearance is taken
        as it is."""
        table = self._table
        if table.embedding is None:
            return
        momentum = self.config.embedding_momentum
        blended = momentum * table.embedding[rows] + (1.0 - momentum) * new
        norms = np.linalg.norm(blended, axis=1, keepdims=True)
        smoothed = np.where(norms > 0, blended / np.where(norms > 0, norms, 1.0), new)
        table.embedding[rows] = np.where(table.has_embedding[rows, None], smoothed, new)
        table.has_embedding[rows] = True

    def _start_tracks(self, detections: _Detections, indices: NDArray[np.intp]) -> None:
        if len(indices) == 0:
            return
        n = len(indices)
        confirmed = self._frame == 1 or self.config.confirm_hits <= 1
        born = _TrackTable()
        born.ids = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
        born.mean, born.covariance = self._kalman.initiate(detections.measurements[indices])
        born.score = detections.scores[indices]
        born.state = np.full(n, _TRACKED if confirmed else _TENTATIVE, dtype=np.int8)
        born.hits = np.ones(n, dtype=np.int64)
        born.start_frame = np.full(n, self._frame, dtype=np.int64)
        born.last_frame = born.start_frame.copy()
        born.cls = detections.classes[indices]
        born.detection_box = detections.boxes[indices]
        table = self._table
        columns = table.class_columns(born.cls)
        born.class_scores = np.zeros((n, len(table.class_ids)))
        born.class_scores[np.arange(n), columns] = born.score
        if table.embedding is not None:
            has = detections.embeddings is not None
            born.embedding = detections.embeddings[indices] if has else np.zeros((n, table.embedding.shape[1]))
            born.has_embedding = np.full(n, has)
        else:
            born.has_embedding = np.zeros(n, dtype=bool)
        table.append(born)
        self._next_id += n

    def _predict(self, camera_motion: NDArray[np.float64] | None) -> None:
        table = self._table
        if len(table) == 0:
            return
        # As in FairMOT/ByteTrack: a track not seen last frame keeps its size instead of extrapolating a
        # growth or shrink it can no longer observe.
        means = table.mean.copy()
        means[table.state != _TRACKED, 7] = 0.0
        means, covariances = self._kalman.predict(means, table.covariance)
        if camera_motion is not None:
            means, covariances = warp_states(means, covariances, camera_motion)
        table.mean, table.covariance = means, covariances

    def _drop_dead(self) -> None:
        table = self._table
        alive = np.where(
            table.state == _TENTATIVE,
            table.last_frame == self._frame,
            self._frame - table.last_frame <= self.config.max_lost,
        )
        table.keep(alive)

    def _report(self) -> FrameTracks:
        table = self._table
        seen = np.flatnonzero((table.state == _TRACKED) & (table.last_frame == self._frame))
        if self.config.reported_boxes == "detection":
            boxes = table.detection_box[seen]
        else:
            boxes = xyah_to_xywh(table.mean[seen]) if len(seen) else np.zeros((0, 4))
        return FrameTracks(
            track_ids=table.ids[seen],
            boxes=boxes,
            scores=table.score[seen],
            classes=table.cls[seen],
        )

    # -- input checks ------------------------------------------------------------------------------

    def _validate(
        self, boxes: ArrayLike, scores: ArrayLike, classes: ArrayLike, embeddings: ArrayLike | None
    ) -> _Detections:
        box_array = np.asarray(boxes, dtype=float)
        if box_array.size == 0:
            box_array = box_array.reshape(0, 4)
        if box_array.ndim != 2 or box_array.shape[1] != 4:
            raise InputError(f"expected shape (N, 4), got {box_array.shape}", field="boxes")
        n = len(box_array)
        score_array = np.asarray(scores, dtype=float).reshape(-1)
        class_values = np.asarray(classes).reshape(-1)
        for name, array in (("scores", score_array), ("classes", class_values)):
            if len(array) != n:
                raise InputError(f"expected {n} values (one per box), got {len(array)}", field=name)
        _require_finite(box_array, "boxes")
        _require_finite(score_array, "scores")
        bad_size = np.flatnonzero((box_array[:, 2] <= 0) | (box_array[:, 3] <= 0))
        if len(bad_size):
            raise InputError(f"detection {bad_size[0]} has a non-positive width or height", field="boxes")
        class_array = _as_int_classes(class_values)
        return _Detections(
            boxes=box_array,
            measurements=xywh_to_xyah(box_array),
            scores=score_array,
            classes=class_array,
            embeddings=None if embeddings is None else self._normalised_embeddings(embeddings, n),
        )

    def _normalised_embeddings(self, embeddings: ArrayLike, n: int) -> NDArray[np.float64]:
        array = np.asarray(embeddings, dtype=float)
        if n == 0 and array.size == 0:
            return np.zeros((0, self._embedding_dim or 0))
        if array.ndim != 2 or len(array) != n:
            raise InputError(f"expected shape ({n}, D), got {array.shape}", field="embeddings")
        if self._embedding_dim is None:
            self._embedding_dim = array.shape[1]
        elif array.shape[1] != self._embedding_dim:
            raise InputError(
                f"embedding size changed from {self._embedding_dim} to {array.shape[1]}", field="embeddings"
            )
        _require_finite(array, "embeddings")
        norms = np.linalg.norm(array, axis=1)
        zero = np.flatnonzero(norms <= 0)
        if len(zero):
            raise InputError(f"detection {zero[0]} has an all-zero embedding", field="embeddings")
        return array / norms[:, None]


def _affine(camera_motion: ArrayLike) -> NDArray[np.float64]:
    affine = np.asarray(camera_motion, dtype=float)
    if affine.shape != (2, 3):
        raise InputError(f"expected a (2, 3) affine transform, got shape {affine.shape}", field="camera_motion")
    if not np.all(np.isfinite(affine)) or abs(np.linalg.det(affine[:, :2])) <= 0:
        raise InputError("the camera motion must be finite and invertible", field="camera_motion")
    return affine


def _require_finite(array: NDArray[np.float64], field: str) -> None:
    bad = np.argwhere(~np.isfinite(array))
    if len(bad):
        raise InputError(f"detection {bad[0][0]} has a non-finite value", field=field)


def _as_int_classes(values: NDArray) -> NDArray[np.int64]:
    try:
        as_float = values.astype(float)
    except (TypeError, ValueError) as err:
        raise InputError("class ids must be integers", field="classes") from err
    if not np.all(np.isfinite(as_float)) or not np.all(as_float == np.round(as_float)):
        raise InputError("class ids must be integers", field="classes")
    return as_float.astype(np.int64)
