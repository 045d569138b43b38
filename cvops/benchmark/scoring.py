"""Scoring one model on one match: detect on a clip of the match's video, track, compare with the labels.

The benchmark scores every (model, sample) pair this way, and training scores a new model on its val matches.

The expected output is the match's cleaned tracks (video frames). A clip (``ClipConfig``) keeps the cost of an
evaluation bounded whatever the match's length: on CPU a few hundred frames take seconds, on a GPU the clip can be
the whole match. Only people are scored (players, goalkeepers, referees): they are what the product tracks by
identity.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from cvops.catalog import Catalog
from cvops.datasets.reader import open_folder
from cvops.labels import LabelStore
from cvops.metrics import SequenceMetrics, combine, evaluate_sequence
from cvops.model import detect
from cvops.model.detection_metrics import TRACKED_CLASSES
from cvops.tracking import TrackerConfig, track_sequence
from cvops.tracking.camera_motion import camera_motion_of_images
from cvops.video.extract import progress_reporter
from cvops.video.extractor import FrameExtractor, FrameReader

RESULT_METRICS = ("hota", "deta", "assa", "mota", "idf1", "id_switches", "fp", "fn", "num_gt_dets")


@dataclass(frozen=True)
class ClipConfig:
    """Which frames of a sample are scored: ``length`` frames from ``start``, every ``stride``-th one."""

    start: int = 1
    length: int = 300
    stride: int = 2
    roles: tuple[str, ...] = TRACKED_CLASSES
    conf_threshold: float = 0.1
    """Detections kept for the tracker: its own score stages decide what starts or extends a track (ByteTrack's
    low threshold, 0.1)."""
    camera_motion: bool = True
    """Measure the camera's pan and zoom between the clip's frames on their images and let the tracker compensate
    it (``cvops.tracking.camera_motion``). It costs a few milliseconds a frame, far less than detection; on a
    static camera it measures no motion and changes nothing (docs/benchmarks.md, "Tracker against library
    trackers")."""

    def frames(self, n_frames: int) -> list[int]:
        last = min(n_frames, self.start + self.length - 1)
        return list(range(self.start, last + 1, self.stride))


def benchmark_tracker(score_threshold: float | None) -> TrackerConfig:
    """How the benchmark tracks a model: at its own operating point (its card's ``track_score_threshold``), with
    the clip's roles as one kind of object and BoT-SORT's first stage.

    The benchmark scores identities, not roles, and a young model's role for one player flickers between frames:
    that must not break the player's track. Teammates wear one kit, and a model trained for minutes embeds them
    alike: FairMOT's appearance-first matching then swaps them all the time, while BoT-SORT's lets appearance
    decide only between overlapping boxes (docs/benchmarks.md, "Tracking a trained model's detections")."""
    return TrackerConfig.at_operating_point(score_threshold, match_across_classes=True, first_stage="botsort")


def track_clip(
    model: torch.nn.Module,
    frames: Sequence[int],
    images: Sequence[np.ndarray],
    clip: ClipConfig,
    tracker: TrackerConfig | None = None,
) -> pd.DataFrame:
    """Detections of ``model`` on ``images`` (one per frame), tracked: ``frame, track_id, x, y, w, h, conf, cls``.

    The tracker steps through the clip's frames only (every ``stride``-th), not the video frames in between; the
    camera motion it compensates (``clip.camera_motion``) is measured between those same frames.
    """
    detections = clip_detections(model, frames, images, clip)
    motion = camera_motion_of_images(frames, images) if clip.camera_motion else None
    return track_sequence(detections, tracker, frames=frames, camera_motion=motion)


def clip_detections(
    model: torch.nn.Module, frames: Sequence[int], images: Sequence[np.ndarray], clip: ClipConfig
) -> pd.DataFrame:
    """What the tracker is given: ``frame, x, y, w, h, conf, cls, embedding`` of the clip's tracked roles."""
    per_image = detect(model, list(images), conf_threshold=clip.conf_threshold)
    # A weak model can decode boxes of no area; they cannot be tracked or matched, so they are dropped here.
    rows = [
        detections[detections["role"].isin(clip.roles) & (detections["w"] > 0) & (detections["h"] > 0)].assign(
            frame=frame
        )
        for frame, detections in zip(frames, per_image, strict=True)
    ]
    columns = ["frame", "x", "y", "w", "h", "conf", "cls", "embedding"]
    return pd.concat(rows, ignore_index=True)[columns] if rows else pd.DataFrame(columns=columns)


def expected_tracks(cleaned_tracks: pd.DataFrame, frames: Sequence[int], clip: ClipConfig) -> pd.DataFrame:
    """The labels of the clip's frames, as MOT ground truth (``frame, id, x, y, w, h``)."""
    gt = cleaned_tracks[cleaned_tracks["frame"].isin(list(frames)) & cleaned_tracks["role"].isin(clip.roles)]
    return gt.rename(columns={"track_id": "id"})[["frame", "id", "x", "y", "w", "h"]].reset_index(drop=True)


def evaluate_clip(
    model: torch.nn.Module,
    frames: Sequence[int],
    images: Sequence[np.ndarray],
    cleaned_tracks: pd.DataFrame,
    clip: ClipConfig,
    tracker: TrackerConfig | None = None,
) -> SequenceMetrics:
    """Track the clip with ``model`` and score it against the cleaned labels (TrackEval's definitions)."""
    tracks = track_clip(model, frames, images, clip, tracker)
    return evaluate_sequence(expected_tracks(cleaned_tracks, frames, clip), tracks.rename(columns={"track_id": "id"}))


def score_match(
    model: torch.nn.Module,
    n_frames: int,
    cleaned_tracks: pd.DataFrame,
    clip: ClipConfig,
    read_frames: FrameReader,
    *,
    score_threshold: float | None,
) -> tuple[SequenceMetrics, int]:
    """Track the match's clip with ``model`` at its operating point and score it against its cleaned tracks;
    returns the metrics and the number of frames scored.

    ``read_frames`` reads the clip's frames exactly from the match's video (the caller knows where it lives);
    ``score_threshold`` is the model's operating point (its card's ``track_score_threshold``, see
    :func:`benchmark_tracker`), ``None`` for ByteTrack's thresholds."""
    frames = clip.frames(n_frames)
    images = read_frames(frames)
    metrics = evaluate_clip(model, frames, images, cleaned_tracks, clip, benchmark_tracker(score_threshold))
    return metrics, len(frames)


def result_row(model_version: str, generation: int, metrics: SequenceMetrics, n_frames: int) -> dict:
    """One ``benchmark_results`` row: the headline metrics plus what combining samples later needs."""
    values = metrics.as_dict()
    return {
        "model_version": model_version,
        "generation": generation,
        **{name: values[name] for name in RESULT_METRICS},
        "frames": n_frames,
        "evaluated_at": pd.Timestamp.now(tz="UTC"),
        "stats": json.dumps(metrics.as_dict(with_stats=True)),
    }


def val_matches(checkout: Path) -> list[str]:
    """The val matches of a checked-out dataset version (either layout: per-match parts or plain files)."""
    manifest = open_folder(checkout).manifest()
    return sorted(manifest.loc[manifest["split"] == "val", "match_id"].unique())


def score_val_matches(
    model: torch.nn.Module,
    matches: Sequence[str],
    catalog: Catalog,
    store: LabelStore,
    extractor: FrameExtractor,
    *,
    score_threshold: float | None,
    progress_log: Callable[[str], None] | None = None,
) -> dict[str, float]:
    """A new model's tracking on ``matches`` (the benchmark's clip of each, at the model's own operating point),
    combined: ``val_matches, val_mota, val_idf1, val_hota``; empty without matches."""
    if not matches:
        return {}
    scored = []
    for match_id in matches:
        record = store.annotated_match(match_id)
        progress = progress_reporter(progress_log, label=f"match {match_id}") if progress_log else None
        metrics, _ = score_match(
            model,
            record.n_frames,
            catalog.read("cleaned_tracks", match_id),
            ClipConfig(),
            extractor.frame_reader(record.video, base_dir=store.root, progress=progress),
            score_threshold=score_threshold,
        )
        scored.append(metrics)
    overall = combine(scored)
    return {"val_matches": len(matches), "val_mota": overall.mota, "val_idf1": overall.idf1, "val_hota": overall.hota}
