"""Training: a model per dataset version, registered as a candidate with its TorchScript export and card."""

import dagster as dg
from pydantic import Field

from cvops.benchmark.scoring import score_val_matches, val_matches
from cvops.datasets import checkout_version, latest_version
from cvops.model import TrainConfig, train
from cvops.model.release import register_candidate
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


class TrainRunConfig(run_config(TrainConfig)):
    """The training run (docs/model.md explains each setting)."""

    dataset_version: int | None = Field(default=None, description="Dataset version to train on; unset: the latest.")
    max_minutes: float | None = Field(
        default=5.0, description="Wall-clock budget for the training loop (evaluation excluded); unset: epochs only."
    )


@dg.asset(
    deps=["dataset_version", "matches", "cleaned_tracks", label_store],
    group_name="models",
    kinds={"pytorch"},
    op_tags=gpu_op_tags(),
    description="A detector + re-ID model trained on a dataset version (checked out with dvc pull), exported to "
    "TorchScript (parity checked) and registered as a candidate; the benchmark then decides on promotion. Its "
    "tracking is scored on the version's val matches.",
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
    result = train(checkout, config.to_domain(), log=context.log.info)
    registry = model_registry.get_registry(actor=f"dagster run {context.run.run_id}")
    version = register_candidate(result, registry, dataset_version=f"dataset/v{number}")
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
            "device": result.device,
            "training_seconds": round(result.seconds, 1),
            "images_per_second": round(result.images_per_second, 2),
            "epochs_completed": result.epochs_completed,
            "stopped_by_time_budget": result.stopped_by_time_budget,
            "player_ap50": _finite(val.get("player_ap50")),
            "map50": _finite(val.get("map50")),
            "track_score_threshold": _finite(val.get("track_score_threshold")),
            "torchscript_max_abs_diff": version.card.parity_max_abs_diff,
            **tracking,
            "loss_per_epoch": dg.MetadataValue.md(_loss_table(result.loss_history)),
        },
        data_version=dg.DataVersion(version.version),
    )


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
