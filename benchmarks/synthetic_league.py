"""A synthetic league to train and score models on: the shared part of the benchmarks that train.

Label sets of a match (keyed by the video frame they describe):

* ``raw``: the product's labels as the product shows them (keyframes interpolated, ghosts kept, label frame
  taken as video frame even where the labels are out of sync);
* ``cleaned``: the same labels through ``cvops.cleaning.clean_match`` with the match's ``det.txt`` (sync offset
  applied, ghosts removed);
* ``truth``: the generator's true boxes, what a perfect annotator following the product's policy would label.

Held-out matches are scored on every ``CLIP.stride``-th frame of the whole match against the truth, which is
what the models are meant to learn, whatever label set they were trained on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from cvops.benchmark.scoring import ClipConfig, clip_detections
from cvops.cleaning import VideoInfo, clean_match
from cvops.labels import LabelStore, interpolate_keyframes
from cvops.metrics import SequenceMetrics, evaluate_sequence
from cvops.model.dataset_folder import DatasetSample, decode_every_nth_frame
from cvops.tracking import TrackerConfig, track_sequence
from cvops.tracking.mot import read_mot_detections

EVERY = 5
"""Training and validation samples: every 5th frame, as the platform's default selection."""
CLIP = ClipConfig(start=1, length=100_000, stride=2)
LABEL_SETS = ("raw", "cleaned", "truth")


def label_set(store: Path, match_id: str, which: str) -> pd.DataFrame:
    """The ``raw``, ``cleaned`` or ``truth`` boxes of one match: ``frame, track_id, role, x, y, w, h``."""
    if which == "truth":
        return pd.read_csv(store / "_truth" / match_id / "boxes.csv")
    labels = LabelStore(store)
    raw = interpolate_keyframes(labels.read_keyframes(match_id))
    if which == "raw":
        return raw.drop(columns="is_keyframe")
    match = labels.read_matches().matches[match_id]
    video = VideoInfo(match.n_frames, match.width, match.height, float(match.fps))
    cleaned = clean_match(match_id, raw, read_mot_detections(labels.detections_file(match_id)), video).cleaned_tracks
    return cleaned.drop(columns="match_id")


def training_samples(
    store: Path, train_matches: Iterable[str], which: str, val_matches: Iterable[str]
) -> Iterator[DatasetSample]:
    """Every ``EVERY``-th frame: of ``train_matches`` with the ``which`` boxes, of ``val_matches`` (which pick
    each model's operating point) with their true boxes."""
    for split, matches, boxes_of in (("train", train_matches, which), ("val", val_matches, "truth")):
        for match_id in matches:
            boxes = label_set(store, match_id, boxes_of)
            for frame, image in decode_every_nth_frame(store / "videos" / f"{match_id}.mp4", EVERY):
                rows = boxes[boxes["frame"] == frame][["track_id", "role", "x", "y", "w", "h"]]
                yield DatasetSample(match_id=match_id, frame=frame, split=split, image=image, boxes=rows)


@dataclass(frozen=True)
class HeldOutClip:
    """The frames of a held-out match that models are scored on, their images and the true people in them."""

    match_id: str
    frames: list[int]
    images: list[np.ndarray]
    truth: pd.DataFrame  # frame, id, x, y, w, h

    @classmethod
    def read(cls, store: Path, match_id: str) -> HeldOutClip:
        truth = label_set(store, match_id, "truth")
        frames = CLIP.frames(int(truth["frame"].max()))
        wanted = set(frames)
        video = store / "videos" / f"{match_id}.mp4"
        images = [image for frame, image in decode_every_nth_frame(video, 1) if frame in wanted]
        people = truth[truth["frame"].isin(wanted) & truth["role"].isin(CLIP.roles)]
        gt = people.rename(columns={"track_id": "id"})[["frame", "id", "x", "y", "w", "h"]].reset_index(drop=True)
        return cls(match_id, frames, images, gt)

    def detections(self, model: torch.nn.Module) -> pd.DataFrame:
        """The model's detections of people on the clip, as the benchmark gives them to the tracker."""
        return clip_detections(model, self.frames, self.images, CLIP)

    def score(self, detections: pd.DataFrame, tracker: TrackerConfig) -> SequenceMetrics:
        """Track ``detections`` through the clip's frames and score the tracks against the truth."""
        tracks = track_sequence(detections, tracker, frames=self.frames)
        return evaluate_sequence(self.truth, tracks.rename(columns={"track_id": "id"}))


def score_held_out(
    model: torch.nn.Module, clips: Iterable[HeldOutClip], score_threshold: float | None
) -> SequenceMetrics:
    """``model``'s detections on every clip, tracked as the benchmark tracks them (at the model's operating
    point), scored against the truth and combined as the leaderboard combines samples."""
    from cvops.benchmark.scoring import benchmark_tracker
    from cvops.metrics import combine

    tracker = benchmark_tracker(score_threshold)
    return combine(clip.score(clip.detections(model), tracker) for clip in clips)
