"""Shared synthetic stores for the synth tests: generated once per session, small enough to stay fast."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cvops.synth import SynthConfig, generate_store

# 16 s at 10 fps: long enough for every planned ghost to leave and come back, small enough to render in ~1 s.
SMALL = SynthConfig(
    n_matches=3, seconds=16, width=320, height=180, fps=10, gop=20, seed=7, ghost_off_seconds=(2.0, 3.0)
)
# A couple of seconds of a postage stamp: for format, determinism and append tests.
TINY = SynthConfig(n_matches=2, seconds=2, width=128, height=72, fps=10, gop=10, seed=1)


@pytest.fixture(scope="session")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small_store")
    generate_store(out, SMALL)
    return out


@pytest.fixture(scope="session")
def small_config() -> SynthConfig:
    return SMALL


@pytest.fixture(scope="session")
def tiny_config() -> SynthConfig:
    return TINY


def _interpolate(keyframes: pd.DataFrame) -> pd.DataFrame:
    """The product's reading of keyframes: per track, a row for every frame from its first to its last keyframe,
    linearly interpolated between consecutive keyframes."""
    parts = []
    for track_id, track in keyframes.sort_values("frame").groupby("track_id"):
        frames = np.arange(track["frame"].iloc[0], track["frame"].iloc[-1] + 1)
        columns = {c: np.interp(frames, track["frame"], track[c]) for c in ("x", "y", "w", "h")}
        parts.append(pd.DataFrame({"frame": frames, "track_id": track_id, **columns}))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="session")
def interpolate() -> Callable[[pd.DataFrame], pd.DataFrame]:
    return _interpolate


@pytest.fixture(scope="session")
def small_truth(small_store: Path) -> pd.DataFrame:
    return pd.read_csv(small_store / "_truth" / "matches.csv").set_index("match_id")
