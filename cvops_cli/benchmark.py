"""``cvops benchmark``: the benchmark's own life cycle (its samples are otherwise only ever added)."""

from __future__ import annotations

import click


@click.group("benchmark")
def benchmark() -> None:
    """Reset the benchmark (docs/architecture.md, "The benchmark")."""


@benchmark.command("invalidate")
@click.option("--reason", required=True, help="Why the benchmark is reset (recorded for good).")
def invalidate_command(reason: str) -> None:
    """Start a new benchmark generation: results of earlier generations stop counting, samples are re-added."""
    from cvops.benchmark import current_generation, invalidate
    from cvops.benchmark.membership import empty_membership
    from cvops.catalog import Catalog, Manifests
    from cvops.settings import CvopsPaths

    paths = CvopsPaths.from_env()
    manifests = Manifests(paths.manifests)
    Catalog(paths.catalog, manifests).refresh()
    before = manifests.read("benchmark_samples")
    after = invalidate(before if len(before) else empty_membership(), reason)
    manifests.write("benchmark_samples", after)
    click.echo(
        f"benchmark generation {current_generation(after)} started; the next benchmark_samples run adds the current "
        "val matches and benchmark_sensor evaluates every model on them"
    )
