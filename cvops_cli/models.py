"""``cvops models``: look at the model registry and move models in and out of production."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cvops.settings import MODEL_REGISTRY_ENV

if TYPE_CHECKING:
    from cvops.registry import ModelRegistry, ModelVersion

STAGES = ("candidate", "production", "archived")
"""``cvops.registry.Stage``'s values, spelled out so that ``--help`` needs no registry import (a test keeps them
equal)."""
_KEY_METRICS = 4
"""How many metrics ``list`` shows per version (alphabetically); ``show`` prints them all."""


def _open(ctx: click.Context) -> ModelRegistry:
    from cvops.catalog import Catalog
    from cvops.registry import open_registry
    from cvops.settings import CvopsPaths

    paths = CvopsPaths.from_env()
    manifests = Catalog.at(paths).manifests
    return open_registry(ctx.obj or paths.model_registry, manifests, cache_dir=paths.models_cache)


def _metrics_text(version: ModelVersion) -> str:
    items = sorted(version.card.metrics.items())
    shown = " ".join(f"{name}={value:.4g}" for name, value in items[:_KEY_METRICS])
    return shown + (f" (+{len(items) - _KEY_METRICS})" if len(items) > _KEY_METRICS else "")


@click.group("models")
@click.option(
    "--root",
    envvar=MODEL_REGISTRY_ENV,
    default=None,
    help=f"Registry folder or s3://bucket/prefix (default: ${MODEL_REGISTRY_ENV}, else $CVOPS_HOME/models).",
)
@click.pass_context
def models(ctx: click.Context, root: str | None) -> None:
    """The model registry: versions, their cards, and which one is in production."""
    ctx.obj = root


@models.command("list")
@click.option("--stage", type=click.Choice(STAGES), default=None, help="Only versions in STAGE.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
def list_versions(ctx: click.Context, stage: str | None, fmt: str) -> None:
    """Every model version: stage, dataset version, creation time and key metrics."""
    versions = _open(ctx).list(stage)
    if fmt == "json":
        click.echo(json.dumps([v.to_dict() for v in versions], indent=2))
        return
    if not versions:
        click.echo("no model versions" + (f" in stage {stage}" if stage else ""))
        return
    rows = [
        [
            v.version,
            v.stage.value,
            v.card.dataset_version,
            v.card.created_at.strftime("%Y-%m-%d %H:%M"),
            _metrics_text(v),
        ]
        for v in versions
    ]
    from tabulate import tabulate

    click.echo(tabulate(rows, headers=["version", "stage", "dataset", "created (UTC)", "metrics"]))


@models.command("show")
@click.argument("version")
@click.pass_context
def show(ctx: click.Context, version: str) -> None:
    """Print the lineage and the model card of VERSION."""
    registry = _open(ctx)
    chain = registry.lineage(version)
    click.echo(f"stage: {chain[0].stage.value}")
    steps = [f"{v.version} ({v.card.dataset_version})" for v in chain]
    click.echo("lineage: " + " <- ".join(steps) + " <- from scratch\n")
    click.echo(registry.card_markdown(version), nl=False)


@models.command("pull")
@click.argument("version")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write (replaced as a whole once the new one is complete).",
)
@click.pass_context
def pull(ctx: click.Context, version: str, out: Path) -> None:
    """Write what an application needs to run VERSION (`production` or an id): TorchScript, ONNX (checked
    against the eager model), card, the tracker's operating point and a checksum manifest."""
    from cvops.delivery import CHECKSUMS, pull_model

    pulled = pull_model(_open(ctx), version, out)
    click.echo(
        f"{pulled.version.version} ({pulled.version.stage.value}) written to {pulled.folder}: "
        f"{', '.join(pulled.files)}; ONNX matches the eager model within {pulled.onnx_max_abs_diff:.2g}; "
        f"check with `cd {pulled.folder} && sha256sum -c {CHECKSUMS}`"
    )


@models.command("promote")
@click.argument("version")
@click.option("--reason", default="promoted by hand (cvops models promote)", show_default=True)
@click.pass_context
def promote(ctx: click.Context, version: str, reason: str) -> None:
    """Put VERSION in production; the current production model is archived (rollback restores it)."""
    registry = _open(ctx)
    previous = registry.production()
    promoted = registry.promote(version, reason)
    replaced = f", archived {previous.version}" if previous else ""
    click.echo(f"{promoted.version} is now in production{replaced}")


@models.command("rollback")
@click.option("--reason", default="rolled back by hand (cvops models rollback)", show_default=True)
@click.pass_context
def rollback(ctx: click.Context, reason: str) -> None:
    """Restore the production model archived by the last promotion; the current one is archived."""
    registry = _open(ctx)
    previous = registry.production()
    restored = registry.rollback(reason)
    replaced = f", archived {previous.version}" if previous else ""
    click.echo(f"rolled back: {restored.version} is in production again{replaced}")


@models.command("audit")
@click.option("--limit", default=20, show_default=True, help="Show the last LIMIT changes (0: all).")
@click.pass_context
def audit(ctx: click.Context, limit: int) -> None:
    """The registry's audit log: who changed what, when and why."""
    entries = _open(ctx).audit_log()
    shown = entries[-limit:] if limit > 0 else entries
    columns = ["seq", "at", "who", "action", "version", "from", "to", "reason"]
    rows = [[e[c] if e[c] is not None else "" for c in columns] for e in shown]
    from tabulate import tabulate

    click.echo(tabulate(rows, headers=columns))
