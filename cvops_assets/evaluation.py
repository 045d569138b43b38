"""Scoring a model's tracking on one match's clip, as the benchmark and the training report both do."""

import dagster as dg
import numpy as np
import torch
from PIL import Image

from cvops.benchmark.evaluate import ClipConfig, benchmark_tracker, evaluate_clip
from cvops.metrics import SequenceMetrics
from cvops_resources import CatalogResource, LabelStoreResource, VideoResource


def score_match(
    model: torch.nn.Module,
    match_id: str,
    clip: ClipConfig,
    *,
    catalog: CatalogResource,
    label_store: LabelStoreResource,
    video: VideoResource,
    score_threshold: float | None,
    log: dg.DagsterLogManager | None = None,
) -> tuple[SequenceMetrics, int]:
    """Track the match's clip (frames read exactly from its video) and score it against its cleaned tracks.

    ``score_threshold``: the model's operating point (its card's ``track_score_threshold``), which the tracker's
    score thresholds follow (:func:`cvops.benchmark.evaluate.benchmark_tracker`); ``None``: ByteTrack's."""
    match = catalog.read("matches", match_id).iloc[0]
    frames = clip.frames(int(match.n_frames))
    extracted = video.extract(match.video, frames, base_dir=label_store.store().root, log=log)
    images = [np.asarray(Image.open(path).convert("RGB")) for path in extracted.to_frame()["path"]]
    tracker = benchmark_tracker(score_threshold)
    metrics = evaluate_clip(model, frames, images, catalog.read("cleaned_tracks", match_id), clip, tracker)
    return metrics, len(frames)
