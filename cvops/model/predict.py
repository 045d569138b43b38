"""The detections that judge a match's labels: which source to trust, and running a model over a match's frames.

Cleaning compares labels with the best model's predictions (docs/cleaning.md). The best model is the registry's
production model, but only once it is good enough to judge anybody: a young model that misses half the players
would call every label a ghost. Below that bar the product's own detections (``det.txt``) judge, and without
either, cleaning falls back to the labels' geometry alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from torch import nn

from cvops.model.decode import detect

PREDICTION_COLUMNS = ("frame", "x", "y", "w", "h", "conf", "role")
"""``role`` is the detected class (``CLASS_NAMES``); empty for detections that have none (``det.txt``)."""
SOURCE_DET_TXT = "det.txt"
SOURCE_NONE = "none"


@dataclass(frozen=True)
class PredictionConfig:
    """Where the predictions that judge the labels come from, and how densely a model is run."""

    prefer_production_model: bool = True
    """Judge labels with the registry's production model, when it is good enough."""
    min_model_player_ap50: float = 0.8
    """A production model judges labels only if its card's validation player AP50 reaches this."""
    frame_step: int = 1
    """Run the model on every frame_step-th frame (1: every frame; the ghost rule needs dense predictions)."""
    conf_threshold: float = 0.1
    """Keep the model's detections scoring at least this: the tracker's low score, well below a model's operating
    point, because the ghost rule asks whether anybody is there at all, which wants recall. On the demo's matches,
    cleaning with model m0001's detections from 0.35 / 0.2 / 0.1 up removed real rows with a ghost precision of
    0.56 / 0.74 / 0.79, all true ghosts found (``benchmarks/ghosts_vs_truth.py``)."""


@dataclass(frozen=True)
class PredictionSource:
    """Which detections judge a match: ``model`` (a registry version), ``det.txt`` or ``none``, and why."""

    kind: str
    reason: str
    model_version: str | None = None

    @property
    def label(self) -> str:
        """As stored in the ``source`` column of ``match_predictions``."""
        return f"model {self.model_version}" if self.kind == "model" else self.kind


def choose_prediction_source(
    production_version: str | None,
    production_player_ap50: float | None,
    has_product_detections: bool,
    config: PredictionConfig,
) -> PredictionSource:
    """The production model if preferred and good enough, else the product's ``det.txt``, else none."""
    note = ""
    if production_version is not None and config.prefer_production_model:
        ap50 = float("nan") if production_player_ap50 is None else production_player_ap50
        if ap50 >= config.min_model_player_ap50:
            return PredictionSource(
                "model", "the registry's production model, run on the match video", production_version
            )
        note = (
            f"production model {production_version} not used: its validation player AP50 {ap50:.3f} is below "
            f"{config.min_model_player_ap50}; "
        )
    if has_product_detections:
        return PredictionSource(SOURCE_DET_TXT, note + "the product model's detections from the label store")
    return PredictionSource(
        SOURCE_NONE, note + "no usable production model and no det.txt; model-based cleaning is skipped"
    )


def prediction_frames(n_frames: int, config: PredictionConfig) -> list[int]:
    """The video frames (1-based) a model is run on."""
    return list(range(1, n_frames + 1, config.frame_step))


def predict_frames(
    model: nn.Module,
    frames: Sequence[int],
    image_paths: Sequence[str | Path],
    conf_threshold: float,
    *,
    batch_size: int = 32,
) -> pd.DataFrame:
    """Detections of ``model`` on the images of ``frames`` (one path each), as ``frame, x, y, w, h, conf, role``.

    Images are decoded a batch at a time, so a whole match never sits in memory at once."""
    rows = []
    for start in range(0, len(frames), batch_size):
        batch_frames = frames[start : start + batch_size]
        images = [np.asarray(Image.open(path).convert("RGB")) for path in image_paths[start : start + batch_size]]
        for frame, found in zip(batch_frames, detect(model, images, conf_threshold=conf_threshold), strict=True):
            rows.append(found[["x", "y", "w", "h", "conf", "role"]].assign(frame=int(frame)))
    columns = list(PREDICTION_COLUMNS)
    return pd.concat(rows, ignore_index=True)[columns] if rows else empty_predictions()


def empty_predictions() -> pd.DataFrame:
    return pd.DataFrame(columns=list(PREDICTION_COLUMNS))


def with_roles(detections: pd.DataFrame) -> pd.DataFrame:
    """``detections`` with a ``role`` column (empty where the source has no classes, as ``det.txt``)."""
    return detections if "role" in detections else detections.assign(role=pd.Series(pd.NA, dtype="string"))
