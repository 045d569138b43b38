"""``cvops benchmark``: the benchmark's own life cycle (its samples are otherwise only ever added)."""

from __future__ import annotations

import click

from cvops.benchmark import BenchmarkError, current_generation, invalidate
from cvops.benchmark.membership import empty_membership
from cvops.catalog import Catalog, Manifests
from cvops.settings import CvopsPaths


@click.group("benchmark")
def benchmark() -> None:
    """Inspect or reset the benchmark (docs/architecture.md, "Benchmark")."""


@benchmark.command("invalidate")
@click.option("--reason", required=True, help="Why the benchmark is reset (recorded for good).")
def invalidate_command(reason: str) -> None:
    """Start a new benchmark generation: results of earlier generations stop counting, samples are re-added."""
    paths = CvopsPaths.from_env()
    manifests = Manifests(paths.manifests)
    Catalog(paths.catalog, manifests).refresh()
    before = manifests.read("benchmark_samples")
    try:
        after = invalidate(before if len(before) else empty_membership(), reason)
    except BenchmarkError as exc:
        raise click.ClickException(str(exc)) from None
    manifests.write("benchmark_samples", after)
    click.echo(
        f"benchmark generation {current_generation(after)} started; the next benchmark_samples run adds the current "
        "val matches and benchmark_sensor evaluates every model on them"
    )
