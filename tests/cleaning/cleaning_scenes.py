"""Small hand-built matches for the cleaning tests: straight-line players, one ghost, noisy predictions.

Kept deliberately simple (a few players, a few hundred frames) so each test states its situation in a couple
of lines and runs in milliseconds; the realistic synthetic matches are used by the benchmark and the quality
test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cvops.cleaning import VideoInfo
from cvops.labels import interpolate_keyframes

VIDEO = VideoInfo(n_frames=400, width=1280, height=720, fps=25.0)


@dataclass
class Scene:
    keyframes: pd.DataFrame
    truth: pd.DataFrame  # visible boxes, label frames
    ghost_rows: set[tuple[int, int]]  # (label frame, track_id)

    @property
    def labels(self) -> pd.DataFrame:
        return interpolate_keyframes(self.keyframes)


def _box(cx: float, cy: float, h: float = 80.0) -> tuple[float, float, float, float]:
    return cx - 0.2 * h, cy - h / 2, 0.4 * h, h


def build_scene(n_players: int = 8, n_frames: int = 400, seed: int = 0, ghost: bool = True) -> Scene:
    """Players moving on straight segments (keyframe at each velocity change); player 1 leaves by the left edge.

    The leaving player is at the image edge at frame 100 (its last keyframe before leaving), invisible on
    frames 101..249 and back at the left edge at frame 250, so rows 101..249 of track 1 are a ghost.
    """
    rng = np.random.default_rng(seed)
    kf_rows = []
    truth_rows = []
    for track in range(1, n_players + 1):
        keys = np.unique(np.r_[1, rng.choice(np.arange(20, n_frames - 20), 5, replace=False), n_frames])
        points = rng.uniform([200, 150], [1080, 600], size=(len(keys), 2))
        if ghost and track == 1:
            keys = np.array([1, 60, 100, 250, 300, n_frames])
            points = np.array([[300, 400], [150, 380], [17, 360], [17, 300], [200, 320], [400, 350]], float)
        for frame, (cx, cy) in zip(keys, points, strict=True):
            kf_rows.append((int(frame), track, "player", *_box(cx, cy)))
        for f in range(1, n_frames + 1):
            if ghost and track == 1 and 100 < f < 250:
                continue
            cx = np.interp(f, keys, points[:, 0])
            cy = np.interp(f, keys, points[:, 1])
            truth_rows.append((f, track, *_box(cx, cy)))
    keyframes = pd.DataFrame(kf_rows, columns=["frame", "track_id", "role", "x", "y", "w", "h"])
    truth = pd.DataFrame(truth_rows, columns=["frame", "track_id", "x", "y", "w", "h"])
    ghosts = {(f, 1) for f in range(101, 250)} if ghost else set()
    return Scene(keyframes=keyframes, truth=truth, ghost_rows=ghosts)


def detections(scene: Scene, shift: int = 0, recall: float = 0.92, noise: float = 2.0, seed: int = 1) -> pd.DataFrame:
    """Predictions of the visible players: label frame ``f`` appears on video frame ``f + shift``."""
    rng = np.random.default_rng(seed)
    truth = scene.truth[rng.random(len(scene.truth)) < recall]
    boxes = truth[["x", "y", "w", "h"]].to_numpy() + rng.normal(0, noise, size=(len(truth), 4))
    preds = pd.DataFrame(boxes, columns=["x", "y", "w", "h"])
    preds.insert(0, "frame", truth["frame"].to_numpy() + shift)
    preds["conf"] = rng.uniform(0.5, 1.0, len(preds))
    return preds[(preds["frame"] >= 1) & (preds["frame"] <= VIDEO.n_frames)].reset_index(drop=True)
