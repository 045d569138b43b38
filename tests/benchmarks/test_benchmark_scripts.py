"""Benchmark scripts run end to end on a tiny input, so a change to the library cannot silently break them.

The figures they print on their real inputs are in docs/benchmarks.md; here only that they run and print a
table with a row per measured case.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"

TINY_RUNS: dict[str, tuple[list[str], int]] = {
    "data_return.py": (["--waves", "1", "2", "--epochs", "1", "--seconds", "2"], 2),
    "warm_start.py": (["--seeds", "0", "--epochs", "1", "--seconds", "2", "--base", "1", "--new", "1"], 3),
}
"""Script -> (arguments of a run of a few seconds' work, table rows it prints)."""


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(TINY_RUNS))
def test_benchmark_script_runs_on_a_tiny_input(script: str) -> None:
    arguments, rows = TINY_RUNS[script]
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *arguments],
        cwd=BENCHMARKS,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    table = [line for line in done.stdout.splitlines() if line.startswith("| ") and not line.startswith("| ---")]
    assert len(table) == 1 + rows, done.stdout
