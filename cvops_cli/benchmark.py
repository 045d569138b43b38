"""``cvops benchmark``: the benchmark's own life cycle (its samples are otherwise only ever added), and the
return on data it measures."""

from __future__ import annotations

from pathlib import Path

import click

_BAR_WIDTH = 30
"""Characters of the longest bar in ``curve``'s terminal chart."""


@click.group("benchmark")
def benchmark() -> None:
    """The benchmark: the learning curve across dataset versions, and resetting it (docs/architecture.md)."""


@benchmark.command("curve")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), help="Also write a PNG plot.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def curve_command(plot_path: Path | None, fmt: str) -> None:
    """Every model's weighted error and HOTA on the benchmark samples common to all, against the size of its
    dataset version: does more data give a better model?"""
    from cvops.benchmark import PromotionPolicy, current_results, current_samples
    from cvops.benchmark.learning_curve import learning_curve, plot_curve
    from cvops.catalog import Manifests
    from cvops.settings import CvopsPaths

    manifests = Manifests(CvopsPaths.from_env().manifests)
    tables = ("benchmark_samples", "models", "dataset_samples")
    if not all(manifests.file(name).exists() for name in tables):
        click.echo("no model has benchmark results yet: train one and let the benchmark evaluate it")
        return
    membership = manifests.read("benchmark_samples")
    curve = learning_curve(
        current_results(membership, manifests.read("benchmark_results")),
        current_samples(membership),
        manifests.read("models"),
        manifests.read("dataset_samples"),
        weights=PromotionPolicy().weights,
    )
    if curve.empty:
        click.echo("no model has benchmark results on common samples yet")
        return
    if fmt != "table":
        click.echo(curve.to_csv(index=False) if fmt == "csv" else curve.to_json(orient="records", indent=2))
    else:
        _print_curve(curve)
    if plot_path is not None:
        plot_curve(curve, plot_path)
        click.echo(f"plot written to {plot_path}")


def _print_curve(curve) -> None:
    from tabulate import tabulate

    worst = float(curve["weighted_error"].max()) or 1.0
    rows = [
        [
            row.model_version,
            row.dataset_version,
            row.parent_model if isinstance(row.parent_model, str) else "scratch",
            row.stage,
            row.train_matches,
            row.train_images,
            f"{row.weighted_error:.4f}",
            f"{row.hota:.4f}",
            "█" * max(1, round(_BAR_WIDTH * row.weighted_error / worst)),
        ]
        for row in curve.itertuples()
    ]
    headers = ["model", "dataset", "from", "stage", "train matches", "train images", "error", "HOTA", "error"]
    click.echo(f"{int(curve['samples'].iloc[0])} benchmark samples common to all models; error = weighted error")
    click.echo(tabulate(rows, headers=headers, disable_numparse=True))


@benchmark.command("invalidate")
@click.option("--reason", required=True, help="Why the benchmark is reset (recorded for good).")
def invalidate_command(reason: str) -> None:
    """Start a new benchmark generation: results of earlier generations stop counting, samples are re-added."""
    from cvops.benchmark import current_generation, invalidate
    from cvops.benchmark.membership import empty_membership
    from cvops.catalog import Catalog
    from cvops.settings import CvopsPaths

    catalog = Catalog.at(CvopsPaths.from_env())
    catalog.refresh()
    manifests = catalog.manifests
    before = manifests.read("benchmark_samples")
    after = invalidate(before if len(before) else empty_membership(), reason)
    manifests.write("benchmark_samples", after)
    click.echo(
        f"benchmark generation {current_generation(after)} started; the next benchmark_samples run adds the current "
        "val matches and benchmark_sensor evaluates every model on them"
    )
