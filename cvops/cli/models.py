"""``cvops models``: look at the model registry and move models in and out of production."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import click
from tabulate import tabulate

from cvops.catalog import Manifests
from cvops.errors import CvopsError
from cvops.registry import REGISTRY_ENV, ModelRegistry, ModelVersion, Stage, default_registry_root, open_registry
from cvops.settings import CvopsPaths

_KEY_METRICS = 4
"""How many metrics ``list`` shows per version (alphabetically); ``show`` prints them all."""


@contextmanager
def _clear_errors() -> Iterator[None]:
    """Registry errors become one-line CLI errors (exit status 1) instead of tracebacks."""
    try:
        yield
    except CvopsError as exc:
        raise click.ClickException(str(exc)) from None


def _open(ctx: click.Context) -> ModelRegistry:
    paths = CvopsPaths.from_env()
    root = ctx.obj or default_registry_root()
    with _clear_errors():
        return open_registry(root, Manifests(paths.manifests), cache_dir=paths.home / "models-cache")


def _metrics_text(version: ModelVersion) -> str:
    items = sorted(version.card.metrics.items())
    shown = " ".join(f"{name}={value:.4g}" for name, value in items[:_KEY_METRICS])
    return shown + (f" (+{len(items) - _KEY_METRICS})" if len(items) > _KEY_METRICS else "")


@click.group("models")
@click.option(
    "--root",
    envvar=REGISTRY_ENV,
    default=None,
    help=f"Registry folder or s3://bucket/prefix (default: ${REGISTRY_ENV}, else $CVOPS_HOME/models).",
)
@click.pass_context
def models(ctx: click.Context, root: str | None) -> None:
    """The model registry: versions, their cards, and which one is in production."""
    ctx.obj = root


@models.command("list")
@click.option("--stage", type=click.Choice([s.value for s in Stage]), default=None, help="Only versions in STAGE.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
def list_versions(ctx: click.Context, stage: str | None, fmt: str) -> None:
    """Every model version: stage, dataset version, creation time and key metrics."""
    with _clear_errors():
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
    click.echo(tabulate(rows, headers=["version", "stage", "dataset", "created (UTC)", "metrics"]))


@models.command("show")
@click.argument("version")
@click.pass_context
def show(ctx: click.Context, version: str) -> None:
    """Print the model card of VERSION."""
    with _clear_errors():
        registry = _open(ctx)
        click.echo(f"stage: {registry.get(version).stage.value}\n")
        click.echo(registry.card_markdown(version), nl=False)


@models.command("promote")
@click.argument("version")
@click.option("--reason", default="promoted by hand (cvops models promote)", show_default=True)
@click.pass_context
def promote(ctx: click.Context, version: str, reason: str) -> None:
    """Put VERSION in production; the current production model is archived (rollback restores it)."""
    with _clear_errors():
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
    with _clear_errors():
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
    with _clear_errors():
        entries = _open(ctx).audit_log()
    shown = entries[-limit:] if limit > 0 else entries
    columns = ["seq", "at", "who", "action", "version", "from", "to", "reason"]
    rows = [[e[c] if e[c] is not None else "" for c in columns] for e in shown]
    click.echo(tabulate(rows, headers=columns))
