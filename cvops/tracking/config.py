"""Tracker parameters, with the defaults and where they come from."""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from cvops.errors import InputError

FIRST_STAGES = ("fairmot", "botsort")
REPORTED_BOXES = ("kalman", "detection")


@dataclass(frozen=True)
class TrackerConfig:
    """Every knob of :class:`cvops.tracking.OnlineTracker`.

    Defaults follow ByteTrack (score thresholds, IoU thresholds, 30-frame buffer) and FairMOT (embedding cost
    threshold, motion fusion weight, embedding momentum); they are the published values for 25-30 fps video.
    """

    high_score: float = 0.5
    """Detections scoring at least this enter the first (embedding) stage (ByteTrack's track_thresh)."""
    low_score: float = 0.1
    """Detections below this are dropped; those in ``[low_score, high_score)`` only extend existing tracks."""
    new_track_score: float = 0.65
    """An unmatched high-score detection starts a track from this score (ByteTrack: track_thresh + 0.1 = 0.6;
    0.65 takes back the few false positives the re-find stage lets through, docs/benchmarks.md)."""
    max_embedding_cost: float = 0.4
    """Largest fused cost accepted in the first stage (FairMOT's threshold)."""
    embedding_weight: float = 0.98
    """Weight of the cosine distance in the fused cost; the rest is the gated Mahalanobis term (FairMOT λ)."""
    gate_probability: float = 0.95
    """Chi-square quantile of the Kalman gate: pairs farther than this (4 d.o.f., 9.49) cannot be matched."""
    min_iou_first: float = 0.2
    """Smallest IoU for first-stage matching in frames without embeddings (ByteTrack's match_thresh 0.8)."""
    min_iou_rescue: float = 0.5
    """With embeddings: smallest IoU to match a still-tracked track to a high-score detection whose embedding
    was too far (FairMOT's second stage: appearance changes when a player turns, position does not jump)."""
    min_iou_low: float = 0.5
    """Smallest IoU to match a low-score detection to a tracked track (ByteTrack's second association)."""
    min_iou_tentative: float = 0.3
    """Smallest IoU to match a tentative (not yet confirmed) track (ByteTrack: 0.7 cost)."""
    confirm_hits: int = 2
    """Matched frames, birth included, before a track is confirmed and reported; a tentative track that misses
    a frame is dropped, which removes one-frame false positives."""
    max_lost: int = 30
    """Frames a lost track is kept for re-identification before it dies (ByteTrack's track_buffer, 30 fps)."""
    embedding_momentum: float = 0.9
    """EMA momentum of a track's appearance: ``e = m * e + (1 - m) * new`` (FairMOT's 0.9)."""
    kalman_position_weight: float = 1 / 20
    """Position process noise std as a fraction of box height (DeepSORT)."""
    kalman_velocity_weight: float = 1 / 80
    """Velocity noise std as a fraction of box height (DeepSORT's 1/160, doubled: a player's velocity changes
    faster than a pedestrian's, and the filter follows a turn sooner; tuned on synthetic leagues)."""
    kalman_measurement_weight: float = 0.075
    """Measurement noise std as a fraction of box height. DeepSORT ties it to the position noise (1/20); trusting
    one detection a little less than the motion smooths the reported boxes (tuned on synthetic leagues,
    docs/benchmarks.md)."""
    kalman_aspect_noise: float = 1e-2
    """Process noise std of the aspect ratio ``w / h`` per frame (DeepSORT: 1e-2)."""
    kalman_aspect_velocity_noise: float = 1e-5
    """Process noise std of the aspect ratio's velocity per frame (DeepSORT: 1e-5)."""
    first_stage: str = "fairmot"
    """How the high-score stage prices a pair when there are embeddings. ``fairmot``: mostly appearance, a
    little motion, nothing outside the Kalman gate; it trusts the re-ID model. ``botsort`` (BoT-SORT):
    ``1 - IoU``, lowered where the boxes overlap and look alike, matched up to ``1 - min_iou_first``;
    appearance only breaks ties between nearby boxes, for a young re-ID model or look-alike objects."""
    appearance_min_iou: float = 0.5
    """``botsort``: appearance counts only for pairs overlapping more than this (BoT-SORT's proximity_thresh)."""
    appearance_max_cost: float = 0.25
    """``botsort``: ... and whose cosine distance is below this (BoT-SORT's appearance_thresh)."""
    reported_boxes: str = "kalman"
    """The box reported for a track in a frame. ``kalman``: its filter's estimate after the frame's detection
    corrected it (ByteTrack's and FairMOT's output, smoother than the detector); ``detection``: the matched
    detection's own box (what Roboflow's ``trackers`` and most detector-first pipelines report)."""
    refind_gate_probability: float = 0.9
    """Lost tracks that no high-score detection overlapped get one more chance: the detections left over are
    matched to them by Mahalanobis distance within this chi-square quantile of the Kalman prediction, whose
    uncertainty grows while the track is unseen (a player reappearing after an occlusion a little away from where
    his track coasted). Only where the first stage matches by overlap (no embeddings, or ``botsort``): FairMOT's
    has already judged lost tracks by appearance. 0 switches the stage off."""
    match_across_classes: bool = False
    """Let a track match detections of any class, and report the class its detections gave the most score to.
    For classes that are roles of one kind of object (player, goalkeeper, referee), which a young detector
    confuses from frame to frame; keep it off for different objects (a ball must not continue a player)."""

    def __post_init__(self) -> None:
        unit_fields = (
            "embedding_weight",
            "min_iou_first",
            "min_iou_rescue",
            "min_iou_low",
            "min_iou_tentative",
            "embedding_momentum",
            "appearance_min_iou",
        )
        for name in unit_fields:
            self._require(0.0 <= getattr(self, name) <= 1.0, name, "must be between 0 and 1")
        self._require(0.0 < self.gate_probability < 1.0, "gate_probability", "must be strictly between 0 and 1")
        self._require(0.0 <= self.refind_gate_probability < 1.0, "refind_gate_probability", "must be in [0, 1)")
        self._require(self.max_embedding_cost >= 0.0, "max_embedding_cost", "must be >= 0")
        self._require(self.appearance_max_cost >= 0.0, "appearance_max_cost", "must be >= 0")
        self._require(self.first_stage in FIRST_STAGES, "first_stage", f"must be one of {', '.join(FIRST_STAGES)}")
        self._require(
            self.reported_boxes in REPORTED_BOXES, "reported_boxes", f"must be one of {', '.join(REPORTED_BOXES)}"
        )
        self._require(self.low_score <= self.high_score, "low_score", "must not exceed high_score")
        self._require(self.confirm_hits >= 1, "confirm_hits", "must be >= 1")
        self._require(self.max_lost >= 0, "max_lost", "must be >= 0")
        kalman_noises = ("kalman_position_weight", "kalman_velocity_weight", "kalman_measurement_weight")
        for name in (*kalman_noises, "kalman_aspect_noise", "kalman_aspect_velocity_noise"):
            self._require(getattr(self, name) > 0.0, name, "must be > 0")

    def _require(self, condition: bool, name: str, message: str) -> None:
        if not condition:
            raise InputError(f"{message}, got {getattr(self, name)!r}", field=name)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def at_operating_point(cls, score_threshold: float | None, **overrides: Any) -> TrackerConfig:
        """The defaults with ByteTrack's score thresholds moved to a detector's own operating point.

        ByteTrack's 0.5 / 0.6 suit a detector whose true detections score above 0.5; a model's best-F1
        confidence on its validation split (``track_score_threshold`` in its card) says where its own
        detections stand. ``high_score`` becomes that threshold (kept within 0.15-0.85, above ``low_score``)
        and ``new_track_score`` keeps ByteTrack's margin of 0.1 above it. ``None``: the published defaults.
        """
        if score_threshold is None:
            return cls(**overrides)
        high = min(max(float(score_threshold), 0.15), 0.85)
        return cls(**{"high_score": high, "new_track_score": high + 0.1, **overrides})

    def at_frame_rate(self, fps: float) -> TrackerConfig:
        """``max_lost`` read as frames of 30 fps video and scaled to ``fps``, ByteTrack's convention for its
        ``track_buffer`` (``frame_rate / 30 * track_buffer``): a lost track waits the same time at any rate."""
        if not fps > 0:
            raise InputError(f"must be > 0, got {fps!r}", field="fps")
        return dataclasses.replace(self, max_lost=max(0, round(self.max_lost * fps / 30.0)))

    @classmethod
    def read_settings(cls, path: str | Path) -> dict[str, Any]:
        """A YAML (or JSON) file's mapping of settings, checked against the fields (unknown names and bad values are
        errors naming the file), to pass as ``**overrides``."""
        import yaml  # only where a settings file is read

        path = Path(path)
        try:
            values = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise InputError(f"cannot read tracker settings: {exc}", file=path) from exc
        values = {} if values is None else values
        if not isinstance(values, dict):
            raise InputError("tracker settings must be a mapping of setting: value", file=path)
        try:
            cls.from_dict(values)
        except InputError as exc:
            raise InputError(exc.message, file=path, field=exc.field) from exc
        except TypeError as exc:
            raise InputError(f"bad tracker setting: {exc}", file=path) from exc
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrackerConfig:
        """Build from a mapping (a YAML/JSON config), rejecting unknown keys by name."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputError(f"unknown tracker setting(s): {', '.join(unknown)}", field=unknown[0])
        return cls(**values)
