"""Training: a model per dataset version, warm-started from production, registered as a candidate with its
TorchScript export and card when it passes the release gate."""

import dagster as dg
from pydantic import Field

from cvops.benchmark.scoring import score_val_matches, val_matches
from cvops.datasets import checkout_version, latest_version
from cvops.model import TrainConfig, TrainResult, load_checkpoint, train
from cvops.model.release import NotReleasableError, ReleaseConfig, register_candidate
from cvops.registry.registry import models_frame
from cvops_assets.automation import on_any_dep_update
from cvops_assets.catalog_tables import label_store, table_asset
from cvops_assets.executor import gpu_op_tags
from cvops_assets.partitions import models_partitions
from cvops_assets.run_config import run_config
from cvops_resources import (
    CatalogResource,
    DatasetRepoResource,
    LabelStoreResource,
    ModelRegistryResource,
    VideoResource,
)

ReleaseRunConfig = run_config(ReleaseConfig)


class TrainRunConfig(run_config(TrainConfig)):
    """The training run (docs/model.md explains each setting)."""

    dataset_version: int | None = Field(default=None, description="Dataset version to train on; unset: the latest.")
    max_minutes: float | None = Field(
        default=120.0,
        description="Safety net: stop the training loop after this many minutes (evaluation excluded); a run it "
        "stops has not finished its epochs and is not registered. Unset: no limit.",
    )
    release: ReleaseRunConfig = Field(
        default=ReleaseRunConfig(), description="The release gate a model must pass to be registered."
    )


@dg.asset(
    deps=["dataset_version", "matches", "cleaned_tracks", label_store],
    group_name="models",
    kinds={"pytorch"},
    op_tags=gpu_op_tags(),
    description="A detector + re-ID model trained for a number of epochs on a dataset version (checked out with dvc "
    "pull), from the production model's weights by default; if it finished its epochs and reaches the release "
    "gate's player AP50, exported to TorchScript (parity checked) and registered as a candidate (else the run "
    "fails and says why); the benchmark then decides on promotion. Its tracking is scored on the version's val "
    "matches.",
)
def trained_model(
    context: dg.AssetExecutionContext,
    config: TrainRunConfig,
    dataset_repo: DatasetRepoResource,
    model_registry: ModelRegistryResource,
    catalog: CatalogResource,
    label_store: LabelStoreResource,
    video: VideoResource,
) -> dg.MaterializeResult:
    repo = dataset_repo.get_repo()
    number = config.dataset_version
    if number is None:
        latest = latest_version(repo)
        if latest is None:
            raise dg.Failure("there is no dataset version to train on yet: materialise dataset_version first")
        number = latest.version
    checkout = checkout_version(repo, number, catalog.paths().checkouts / f"dataset-v{number}")
    train_config: TrainConfig = config.to_domain()
    registry = model_registry.get_registry(actor=f"dagster run {context.run.run_id}")
    production = registry.production() if train_config.start_from == "production" else None
    parent = load_checkpoint(registry.checkpoint_path(production.version)) if production else None
    if production is not None:
        context.log.info(
            f"warm start from the production model {production.version} ({production.card.dataset_version})"
        )
    result = train(checkout, train_config, parent=parent, log=context.log.info)
    try:
        version = register_candidate(
            result,
            registry,
            dataset_version=f"dataset/v{number}",
            gate=config.release.to_domain(),
            parent_model=production.version if production else None,
        )
    except NotReleasableError as refused:
        raise dg.Failure(str(refused), metadata=_training_metadata(result)) from None
    context.instance.add_dynamic_partitions(models_partitions.name, [version.version])

    val = result.val_metrics or {}
    tracking = score_val_matches(
        result.model,
        val_matches(checkout),
        catalog.get_catalog(),
        label_store.get_store(),
        video.get_extractor(),
        score_threshold=val.get("track_score_threshold"),
        progress_log=context.log.info,
    )
    return dg.MaterializeResult(
        metadata={
            "model_version": version.version,
            "dataset_version": f"dataset/v{number}",
            "parent_model": version.card.parent_model or "none (from scratch)",
            **_training_metadata(result),
            "map50": _finite(val.get("map50")),
            "track_score_threshold": _finite(val.get("track_score_threshold")),
            "torchscript_max_abs_diff": version.card.parity_max_abs_diff,
            **tracking,
        },
        data_version=dg.DataVersion(version.version),
    )


def _training_metadata(result: TrainResult) -> dict:
    """How the run went, for the materialisation or for the failure that refuses it."""
    return {
        "device": result.device,
        "cpu_share": result.threads.cpus,
        "torch_threads": result.threads.torch_threads,
        "loader_workers": result.threads.loader_workers,
        "training_seconds": round(result.seconds, 1),
        "images_per_second": round(result.images_per_second, 2),
        "epochs_completed": result.epochs_completed,
        "epochs": result.config.epochs,
        "stopped_by_time_limit": result.stopped_by_time_budget,
        "player_ap50": _finite((result.val_metrics or {}).get("player_ap50")),
        "loss_per_epoch": dg.MetadataValue.md(_loss_table(result.loss_history)),
    }


@dg.multi_asset(
    name="models",
    specs=[
        table_asset(
            "models",
            deps=["trained_model", "model_promotion"],
            group_name="models",
            automation_condition=on_any_dep_update,
        )
    ],
    description="Rewrites the catalog table of model versions from the registry, after a model is registered "
    "or promoted (`cvops models` changes made by hand rewrite it too).",
)
def models_table(model_registry: ModelRegistryResource, catalog: CatalogResource) -> dg.MaterializeResult:
    registry = model_registry.get_registry()
    state = registry.state()
    catalog.get_catalog().write("models", models_frame(state))
    production = state.production()
    return dg.MaterializeResult(
        asset_key="models",
        metadata={"versions": len(state.versions), "production": production.version if production else "none"},
    )


def _finite(value: object) -> float:
    return float(value) if isinstance(value, int | float) else float("nan")


def _loss_table(history: list[dict[str, float]]) -> str:
    if not history:
        return "no epoch completed"
    columns = list(history[0])
    lines = ["| epoch | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for epoch, row in enumerate(history, start=1):
        lines.append(f"| {epoch} | " + " | ".join(f"{row[c]:.4f}" for c in columns) + " |")
    return "\n".join(lines)
