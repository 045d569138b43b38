"""Online multi-object tracker: ByteTrack's two-score association with FairMOT's appearance stage.

Per frame, in order:

1. every live track is advanced by the Kalman filter;
2. **high-score stage**: detections scoring ``>= high_score`` are matched to confirmed tracks, tracked or
   lost, on a fused cost (embedding cosine distance plus a small Mahalanobis term, forbidden outside the
   Kalman gate). Tracked tracks whose appearance did not match get one more chance by IoU
   (``min_iou_rescue``). Frames without embeddings use IoU alone here;
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
goalkeeper, referee): then a track's class is the one its detections gave the most score to. Reported per
frame: confirmed tracks matched in that frame, with their Kalman-corrected boxes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cvops.errors import InputError
from cvops.tracking.boxes import xyah_to_xywh, xywh_to_xyah
from cvops.tracking.config import TrackerConfig
from cvops.tracking.kalman import KalmanBoxFilter, chi2_gate
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


@dataclass(eq=False)
class Track:
    """One object's filter state and appearance between frames."""

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


class OnlineTracker:
    """Call :meth:`update` once per frame, in order, including frames without detections (lost tracks age)."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config if config is not None else TrackerConfig()
        self._kalman = KalmanBoxFilter(self.config.kalman_position_weight, self.config.kalman_velocity_weight)
        self._gate = chi2_gate(self.config.gate_probability)
        self.reset()

    def reset(self) -> None:
        """Forget every track and restart ids at 1 (ids are per tracker instance, never global)."""
        self._tracks: list[Track] = []
        self._next_id = 1
        self._frame = 0
        self._embedding_dim: int | None = None

    @property
    def frames_seen(self) -> int:
        return self._frame

    @property
    def tracks(self) -> tuple[Track, ...]:
        """Live tracks in every state (tentative, tracked, lost)."""
        return tuple(self._tracks)

    def update(
        self,
        boxes: ArrayLike,
        scores: ArrayLike,
        classes: ArrayLike,
        embeddings: ArrayLike | None = None,
    ) -> FrameTracks:
        """Associate one frame's detections (N, 4 xywh; N scores; N int classes; N, D embeddings or None)."""
        self._frame += 1
        detections = self._validate(boxes, scores, classes, embeddings)
        self._predict()
        cfg = self.config
        high = np.flatnonzero(detections.scores >= cfg.high_score)
        low = np.flatnonzero((detections.scores >= cfg.low_score) & (detections.scores < cfg.high_score))
        confirmed = [t for t in self._tracks if t.state is not TrackState.TENTATIVE]
        tentative = [t for t in self._tracks if t.state is TrackState.TENTATIVE]

        high, unmatched = self._match_high(confirmed, detections, high)
        still_tracked = [t for t in unmatched if t.state is TrackState.TRACKED]
        _, not_extended = self._match_iou(still_tracked, detections, low, cfg.min_iou_low, learn_appearance=False)
        for track in not_extended:
            track.state = TrackState.LOST
        high, _ = self._match_iou(tentative, detections, high, cfg.min_iou_tentative, learn_appearance=True)
        for index in high:
            if detections.scores[index] >= cfg.new_track_score:
                self._start_track(detections, int(index))
        self._tracks = [t for t in self._tracks if self._is_alive(t)]
        return self._report()

    # -- association stages ------------------------------------------------------------------------

    def _match_high(
        self, tracks: list[Track], detections: _Detections, candidates: NDArray[np.intp]
    ) -> tuple[NDArray[np.intp], list[Track]]:
        """First stage; returns the detections and the tracks it left unmatched."""
        if detections.embeddings is None:
            return self._match_iou(tracks, detections, candidates, self.config.min_iou_first, learn_appearance=True)
        if self.config.first_stage == "botsort":
            cost = self._iou_appearance_cost(tracks, detections, candidates)
            result = assign(cost, 1.0 - self.config.min_iou_first)
        else:
            result = assign(self._fused_cost(tracks, detections, candidates), self.config.max_embedding_cost)
        self._apply(tracks, detections, candidates, result.matches, learn_appearance=True)
        remaining = candidates[result.unmatched_columns]
        unmatched = [tracks[i] for i in result.unmatched_rows]
        tracked = [t for t in unmatched if t.state is TrackState.TRACKED]
        lost = [t for t in unmatched if t.state is TrackState.LOST]
        remaining, not_rescued = self._match_iou(
            tracked, detections, remaining, self.config.min_iou_rescue, learn_appearance=True
        )
        return remaining, not_rescued + lost

    def _match_iou(
        self,
        tracks: list[Track],
        detections: _Detections,
        candidates: NDArray[np.intp],
        min_iou: float,
        *,
        learn_appearance: bool,
    ) -> tuple[NDArray[np.intp], list[Track]]:
        """Match by IoU alone; returns the detections and the tracks left unmatched."""
        cost = self._iou_cost(tracks, detections, candidates)
        result = assign(cost, 1.0 - min_iou)
        self._apply(tracks, detections, candidates, result.matches, learn_appearance=learn_appearance)
        return candidates[result.unmatched_columns], [tracks[i] for i in result.unmatched_rows]

    def _iou_cost(
        self, tracks: list[Track], detections: _Detections, candidates: NDArray[np.intp]
    ) -> NDArray[np.float64]:
        track_boxes = np.array([t.box for t in tracks]).reshape(-1, 4)
        track_classes, detection_classes = self._association_classes(tracks, detections, candidates)
        return iou_cost(track_boxes, track_classes, detections.boxes[candidates], detection_classes)

    def _association_classes(
        self, tracks: list[Track], detections: _Detections, candidates: NDArray[np.intp]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """The classes that must agree for a track and a detection to match: their own, or one shared class
        when ``match_across_classes`` (a role that flickers between frames must not break a track)."""
        if self.config.match_across_classes:
            return np.zeros(len(tracks), dtype=np.int64), np.zeros(len(candidates), dtype=np.int64)
        return np.array([t.cls for t in tracks], dtype=np.int64), detections.classes[candidates]

    def _appearance_distances(
        self, tracks: list[Track], detections: _Detections, candidates: NDArray[np.intp]
    ) -> tuple[list[int], NDArray[np.float64]]:
        """The rows of the tracks that have an appearance yet, and their cosine distances to the candidates (tracks
        born in frames without embeddings have none)."""
        assert detections.embeddings is not None
        rows = [row for row, t in enumerate(tracks) if t.embedding is not None]
        if not rows or len(candidates) == 0:
            return rows, np.zeros((len(rows), len(candidates)))
        stacked = np.stack([tracks[row].embedding for row in rows])
        return rows, cosine_distance(stacked, detections.embeddings[candidates])

    def _iou_appearance_cost(
        self, tracks: list[Track], detections: _Detections, candidates: NDArray[np.intp]
    ) -> NDArray[np.float64]:
        appearance = np.ones((len(tracks), len(candidates)))
        rows, distances = self._appearance_distances(tracks, detections, candidates)
        appearance[rows] = distances
        cfg = self.config
        return iou_with_appearance(
            self._iou_cost(tracks, detections, candidates), appearance, cfg.appearance_min_iou, cfg.appearance_max_cost
        )

    def _fused_cost(
        self, tracks: list[Track], detections: _Detections, candidates: NDArray[np.intp]
    ) -> NDArray[np.float64]:
        cost = np.full((len(tracks), len(candidates)), np.inf)
        rows, appearance = self._appearance_distances(tracks, detections, candidates)
        if not rows or len(candidates) == 0:
            return cost  # tracks without an appearance are left to the IoU rescue
        chosen = [tracks[row] for row in rows]
        gating = self._kalman.gating_distances(
            np.stack([t.mean for t in chosen]),
            np.stack([t.covariance for t in chosen]),
            detections.measurements[candidates],
        )
        cost[rows] = fuse_motion(appearance, gating, self._gate, self.config.embedding_weight)
        cost[class_mismatch(*self._association_classes(tracks, detections, candidates))] = np.inf
        return cost

    # -- track life cycle --------------------------------------------------------------------------

    def _apply(
        self,
        tracks: list[Track],
        detections: _Detections,
        candidates: NDArray[np.intp],
        matches: NDArray[np.intp],
        *,
        learn_appearance: bool,
    ) -> None:
        for row, column in matches:
            track = tracks[row]
            index = candidates[column]
            track.mean, track.covariance = self._kalman.update(
                track.mean, track.covariance, detections.measurements[index]
            )
            track.score = float(detections.scores[index])
            cls = int(detections.classes[index])
            track.class_scores[cls] = track.class_scores.get(cls, 0.0) + track.score
            track.cls = max(track.class_scores, key=track.class_scores.__getitem__)
            track.last_frame = self._frame
            track.hits += 1
            if learn_appearance and detections.embeddings is not None:
                track.embedding = self._smooth(track.embedding, detections.embeddings[index])
            if track.state is TrackState.LOST or track.hits >= self.config.confirm_hits:
                track.state = TrackState.TRACKED

    def _smooth(self, current: NDArray[np.float64] | None, new: NDArray[np.float64]) -> NDArray[np.float64]:
        """EMA of the appearance, re-normalised so cosine distances stay in range."""
        if current is None:
            return new.copy()
        momentum = self.config.embedding_momentum
        blended = momentum * current + (1.0 - momentum) * new
        norm = np.linalg.norm(blended)
        return blended / norm if norm > 0 else new.copy()

    def _start_track(self, detections: _Detections, index: int) -> None:
        mean, covariance = self._kalman.initiate(detections.measurements[index])
        confirmed = self._frame == 1 or self.config.confirm_hits <= 1
        embedding = None if detections.embeddings is None else detections.embeddings[index].copy()
        cls, score = int(detections.classes[index]), float(detections.scores[index])
        self._tracks.append(
            Track(
                track_id=self._next_id,
                cls=cls,
                class_scores={cls: score},
                mean=mean,
                covariance=covariance,
                score=score,
                embedding=embedding,
                state=TrackState.TRACKED if confirmed else TrackState.TENTATIVE,
                hits=1,
                start_frame=self._frame,
                last_frame=self._frame,
            )
        )
        self._next_id += 1

    def _predict(self) -> None:
        if not self._tracks:
            return
        means = np.stack([t.mean for t in self._tracks])
        covariances = np.stack([t.covariance for t in self._tracks])
        # As in FairMOT/ByteTrack: a track not seen last frame keeps its size instead of extrapolating a
        # growth or shrink it can no longer observe.
        not_tracked = np.array([t.state is not TrackState.TRACKED for t in self._tracks])
        means[not_tracked, 7] = 0.0
        means, covariances = self._kalman.predict(means, covariances)
        for track, mean, covariance in zip(self._tracks, means, covariances, strict=True):
            track.mean, track.covariance = mean, covariance

    def _is_alive(self, track: Track) -> bool:
        if track.state is TrackState.TENTATIVE:
            return track.last_frame == self._frame
        return self._frame - track.last_frame <= self.config.max_lost

    def _report(self) -> FrameTracks:
        seen = sorted(
            (t for t in self._tracks if t.state is TrackState.TRACKED and t.last_frame == self._frame),
            key=lambda t: t.track_id,
        )
        return FrameTracks(
            track_ids=np.array([t.track_id for t in seen], dtype=np.int64),
            boxes=np.array([t.box for t in seen], dtype=float).reshape(-1, 4),
            scores=np.array([t.score for t in seen], dtype=float),
            classes=np.array([t.cls for t in seen], dtype=np.int64),
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
