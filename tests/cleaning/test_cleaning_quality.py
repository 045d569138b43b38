"""The quality bar on a small synthetic suite, scored by the benchmark's own code (benchmarks/cleaning_quality.py).

Bar: sync offset exact for >= 95% of shifted matches and never applied to an unshifted one; ghost rows found with
recall >= 0.95 and precision >= 0.90; at most 2% of the rows that are not ghosts removed.
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


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two seeds of three 20 s matches each (one shifted per three, one to three ghosts per match)."""
    roots = []
    for seed in SEEDS:
        root = tmp_path_factory.mktemp(f"synth-{seed}")
        generate_store(root, SynthConfig(n_matches=3, seconds=20.0, seed=seed))
        roots.append(root)
    return roots


@pytest.mark.slow
def test_cleaning_meets_the_quality_bar_with_predictions(stores):
    benchmark = load_benchmark()
    scores = [score for root in stores for score in benchmark.evaluate_store(root)[0]]
    figures = quality_figures(scores)
    assert figures.shifted >= 2 and figures.unshifted >= 2
    assert figures.sync_exact_share >= 0.95
    assert figures.unshifted_shifted == 0
    assert figures.ghost_rows_true > 0
    assert figures.ghost_recall >= 0.95
    assert figures.ghost_precision >= 0.90
    assert figures.other_rows_removed_share <= 0.02


@pytest.mark.slow
def test_labels_alone_still_find_the_ghosts(stores):
    benchmark = load_benchmark()
    scores = [score for root in stores for score in benchmark.evaluate_store(root, use_predictions=False)[0]]
    figures = quality_figures(scores)
    assert figures.unshifted_shifted == 0
    assert figures.ghost_recall >= 0.95
    assert figures.ghost_precision >= 0.90
    assert figures.other_rows_removed_share <= 0.02
