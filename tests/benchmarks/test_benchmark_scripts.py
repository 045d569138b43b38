"""Every script under benchmarks/ runs end to end on a tiny input, so that none can rot unnoticed.

The figures they print are not checked here (they are measured by hand, on a quiet machine, and reported in
docs/benchmarks.md); only that each script still runs against today's library and prints its report. Scripts that
read a platform's state get a tiny one: one synthetic match in the label store, its detections in the catalog and a
model trained for one epoch in the registry.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from cvops.catalog import Catalog
from cvops.model import TrainConfig, dataset_from_synth_store, train
from cvops.model.predict import with_roles
from cvops.model.release import ReleaseConfig, register_candidate
from cvops.registry import open_registry
from cvops.settings import CvopsPaths
from cvops.synth import SynthConfig, generate_store
from cvops.tracking import read_mot_detections

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(p.name for p in (ROOT / "benchmarks").glob("*.py"))
LIBRARY_MODULES = {"synthetic_league.py"}
"""Modules the scripts import, with no command line of their own."""

TINY_SYNTH = ["--matches", "1", "--seconds", "2"]
# Script -> (arguments of a tiny run, text its report must contain).
TINY_RUNS: dict[str, tuple[list[str], str]] = {
    "cli_startup.py": (["--runs", "1"], "cvops --help"),
    "partitions.py": (["--matches", "20"], "20 matches"),
    "synth_bench.py": ([*TINY_SYNTH, "--width", "128", "--height", "72"], ""),
    "cleaning_quality.py": (["--seeds", "0", *TINY_SYNTH, "--store-root", "{tmp}/cq"], "ghost recall"),
    "drift_calibration.py": (["--matches", "3", "--seconds", "2", "--seeds", "1", "--parts", "synth,rates"], ""),
    "executor_overhead.py": (["--assets", "4", "--repeats", "1"], ""),
    "extract.py": (
        ["--minutes", "0.05", "--n", "3", "--repeats", "1", "--work", "{tmp}/extract", "--max-ffmpeg-n", "3"],
        "",
    ),
    "tracking_bench.py": (["--players", "4", "--frames", "40", "--seeds", "1", "--rows", "2000"], ""),
    "train_throughput.py": (
        [
            *("--synth-matches", "2", "--synth-seconds", "1", "--batch-sizes", "2", "--input-sizes", "128x96"),
            *("--steps", "1", "--warmup", "0", "--repeats", "1"),
        ],
        "",
    ),
    "cleaning_value.py": (
        ["--seeds", "0", "--epochs", "1", "--train", "1", "--held-out", "1", "--seconds", "4", "--arms", "cleaned"],
        "lower than raw",
    ),
    "clip_tracking.py": (["--seed", "0", "--epochs", "1", "--train", "1", "--held-out", "1", "--seconds", "4"], ""),
    "dataset_scale.py": (
        ["--samples", "200", "--per-match", "100", "--flat", "200", "--repeat", "2", "--workdir", "{tmp}/scale"],
        "median of 2 runs",
    ),
    "shard_formats.py": (["--samples", "50", "--size", "64x36", "--reads", "20"], ""),
    "tracker_peers.py": (["--seeds", "0", "--pan-seeds", "--matches", "1", "--seconds", "2", "--ablation"], ""),
    "data_return.py": (["--waves", "1", "2", "--epochs", "1", "--seconds", "2"], "| 2 |"),
    "warm_start.py": (
        ["--seeds", "0", "--epochs", "1", "--seconds", "2", "--base", "1", "--new", "1"],
        "retrained from the first model",
    ),
    "ghosts_vs_truth.py": (["m0000"], "recall"),
    "operating_point.py": (["m0001", "m0000", "--high", "0.5"], "operating point"),
}


def test_every_script_has_a_tiny_run() -> None:
    assert set(SCRIPTS) - LIBRARY_MODULES == set(TINY_RUNS)


@pytest.fixture(scope="module")
def tiny_platform(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A platform state with one synthetic match, its det.txt as the catalog's predictions, and one model (trained
    one epoch, so let through the release gate's AP50 floor)."""
    root = tmp_path_factory.mktemp("platform")
    env = {"CVOPS_HOME": str(root / "home"), "CVOPS_LABEL_STORE": str(root / "store")}
    paths = CvopsPaths.from_env(env)
    generate_store(paths.label_store, SynthConfig(n_matches=1, seconds=2.0, width=320, height=180, seed=1))
    detections = read_mot_detections(paths.label_store / "m0000" / "det.txt")
    Catalog.at(paths).write("match_predictions", with_roles(detections).assign(source="det.txt"), "m0000")
    folder = dataset_from_synth_store(paths.label_store, root / "dataset", every=10, val_matches=[])
    result = train(folder, TrainConfig(epochs=1, batch_size=2, input_size=(128, 96), evaluate_split=None))
    registry = open_registry(paths.model_registry, cache_dir=paths.models_cache)
    register_candidate(result, registry, dataset_version="dataset/v1", gate=ReleaseConfig(min_player_ap50=0.0))
    return env


@pytest.mark.parametrize("script", sorted(TINY_RUNS))
def test_script_runs_on_a_tiny_input(script: str, tiny_platform: dict[str, str], tmp_path: Path) -> None:
    arguments, expected = TINY_RUNS[script]
    env = {
        **os.environ,
        **tiny_platform,
        "PYTHONPATH": str(ROOT),
        "DAGSTER_HOME": str(tmp_path / "dagster"),
        "CVOPS_GPU_DEVICES": "",
    }
    (tmp_path / "dagster").mkdir()
    command = [sys.executable, str(ROOT / "benchmarks" / script), *(a.format(tmp=tmp_path) for a in arguments)]
    run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, f"{script} failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    assert expected in run.stdout, run.stdout[-3000:]


def test_the_tiny_platform_is_what_the_scripts_expect(tiny_platform: dict[str, str]) -> None:
    paths = CvopsPaths.from_env(tiny_platform)
    assert (paths.label_store / "_truth" / "m0000" / "boxes.csv").exists()
    assert [v.version for v in open_registry(paths.model_registry).list()] == ["m0001"]
    assert len(pd.read_parquet(paths.manifests / "match_predictions" / "match_id=m0000" / "data.parquet")) > 0
