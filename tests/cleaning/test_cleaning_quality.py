"""The quality bar on a small synthetic suite, scored by the benchmark's own code (benchmarks/cleaning_quality.py).

Bar: sync offset exact for >= 95% of shifted matches and never applied to an unshifted one; ghost rows found with
recall >= 0.95 and precision >= 0.90; at most 2% of the rows that are not ghosts removed.

The generator's ghost players wait off the pitch in the picture, beside their ghost box; the same leagues are also
scored with the players walking on out of the picture. Labels alone cannot find either kind: the product stops
labelling a player at the touchline, and the geometric rule sees the image border, not the pitch lines (its logic
is tested on hand-made scenes in test_cleaning_ghosts.py). What must hold without predictions is that it removes
nothing real.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from cvops.cleaning.quality import quality_figures
from cvops.synth import SynthConfig, generate_store

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "cleaning_quality.py"
SEEDS = (101, 202)


def load_benchmark():
    spec = importlib.util.spec_from_file_location("cleaning_quality_benchmark", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Beyond about 10 m past the near touchline a player is wholly below the default picture.
OUT_OF_PICTURE = {"ghost_off_pitch_m": (12.0, 16.0)}


def make_stores(tmp_path_factory: pytest.TempPathFactory, name: str, **synth) -> list[Path]:
    """Two seeds of three 20 s matches each (one shifted per three, one to three ghosts per match)."""
    roots = []
    for seed in SEEDS:
        root = tmp_path_factory.mktemp(f"{name}-{seed}")
        generate_store(root, SynthConfig(n_matches=3, seconds=20.0, seed=seed, **synth))
        roots.append(root)
    return roots


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return make_stores(tmp_path_factory, "synth")


@pytest.fixture(scope="module")
def out_of_picture_stores(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return make_stores(tmp_path_factory, "synth-out", **OUT_OF_PICTURE)


@pytest.mark.slow
@pytest.mark.parametrize("which", ["stores", "out_of_picture_stores"])
def test_cleaning_meets_the_quality_bar_with_predictions(which, request):
    benchmark = load_benchmark()
    scores = [score for root in request.getfixturevalue(which) for score in benchmark.evaluate_store(root)[0]]
    figures = quality_figures(scores)
    assert figures.shifted >= 2 and figures.unshifted >= 2
    assert figures.sync_exact_share >= 0.95
    assert figures.unshifted_shifted == 0
    assert figures.ghost_rows_true > 0
    assert figures.ghost_recall >= 0.95
    assert figures.ghost_precision >= 0.90
    assert figures.other_rows_removed_share <= 0.02


@pytest.mark.slow
@pytest.mark.parametrize("which", ["stores", "out_of_picture_stores"])
def test_labels_alone_remove_nothing_real(which, request):
    benchmark = load_benchmark()
    roots = request.getfixturevalue(which)
    scores = [score for root in roots for score in benchmark.evaluate_store(root, use_predictions=False)[0]]
    figures = quality_figures(scores)
    assert figures.ghost_rows_true > 0
    assert figures.unshifted_shifted == 0
    assert figures.other_rows_removed_share == 0.0
