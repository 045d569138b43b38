"""Training: a model per dataset version, registered as a candidate with its TorchScript export and card."""

import tempfile
from pathlib import Path

import dagster as dg
import pandas as pd
import torch

from cvops.benchmark.scoring import ClipConfig, score_match
from cvops.datasets import checkout_version, latest_version
from cvops.metrics import combine
from cvops.model import TrainConfig, export_torchscript, train
from cvops.registry import ModelCard
from cvops_assets.datasets import dataset_version
from cvops_assets.executor import gpu_op_tags
from cvops_assets.partitions import models_partitions
from cvops_resources import (
    CatalogResource,
    DatasetRepoResource,
    LabelStoreResource,
    ModelRegistryResource,
    VideoResource,
)

_DEFAULTS = TrainConfig()


class TrainingSettings(dg.Config):
    """The training run (see docs/model.md); unset ``dataset_version`` means the latest version."""

    dataset_version: int | None = None
    epochs: int = _DEFAULTS.epochs
    max_minutes: float | None = 5.0
    batch_size: int = _DEFAULTS.batch_size
    input_width: int = _DEFAULTS.input_size[0]
    input_height: int = _DEFAULTS.input_size[1]
    lr: float = _DEFAULTS.lr
    weight_decay: float = _DEFAULTS.weight_decay
    seed: int = _DEFAULTS.seed
    num_workers: int = _DEFAULTS.num_workers
    num_threads: int | None = _DEFAULTS.num_threads

    def to_domain(self) -> TrainConfig:
        return TrainConfig(
            epochs=self.epochs,
            max_minutes=self.max_minutes,
            batch_size=self.batch_size,
            input_size=(self.input_width, self.input_height),
            lr=self.lr,
            weight_decay=self.weight_decay,
            seed=self.seed,
            num_workers=self.num_workers,
            num_threads=self.num_threads,
        )


@dg.asset(
    deps=[dataset_version],
    group_name="models",
    kinds={"pytorch"},
    op_tags=gpu_op_tags(),
    description="A detector + re-ID model trained on a dataset version (checked out with dvc pull), exported to "
    "TorchScript (parity checked) and registered as a candidate; the benchmark then decides on promotion.",
)
def trained_model(
    context: dg.AssetExecutionContext,
    config: TrainingSettings,
    dataset_repo: DatasetRepoResource,
    model_registry: ModelRegistryResource,
    catalog: CatalogResource,
    label_store: LabelStoreResource,
    video: VideoResource,
) -> dg.MaterializeResult:
    repo = dataset_repo.repo()
    number = config.dataset_version
    if number is None:
        latest = latest_version(repo)
        if latest is None:
            raise dg.Failure("there is no dataset version to train on yet: materialise dataset_version first")
        number = latest.version
    checkout = checkout_version(repo, number, catalog.root / "checkouts" / f"dataset-v{number}")
    result = train(checkout, config.to_domain(), log=context.log.info)

    with tempfile.TemporaryDirectory(prefix="cvops-model-") as tmp:
        checkpoint = result.save(Path(tmp) / "checkpoint.pt")
        example = torch.rand(1, 3, config.input_height, config.input_width)
        parity = export_torchscript(result.model, Path(tmp) / "model.torchscript.pt", example)
        card = ModelCard.create(
            dataset_version=f"dataset/v{number}",
            config=result.config.to_dict(),
            metrics=_card_metrics(result.val_metrics or {}),
            parity_max_abs_diff=parity,
            device=result.device,
        )
        version = model_registry.registry(actor=f"dagster run {context.run_id}").register(
            checkpoint, Path(tmp) / "model.torchscript.pt", card
        )
    context.instance.add_dynamic_partitions(models_partitions.name, [version.version])
    val = result.val_metrics or {}
    tracking = _val_tracking(
        result.model, checkout, val.get("track_score_threshold"), catalog, label_store, video, context
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
            "torchscript_max_abs_diff": parity,
            **tracking,
            "loss_per_epoch": dg.MetadataValue.md(_loss_table(result.loss_history)),
        },
        data_version=dg.DataVersion(version.version),
    )


def _val_tracking(
    model: torch.nn.Module,
    checkout: Path,
    score_threshold: float | None,
    catalog: CatalogResource,
    label_store: LabelStoreResource,
    video: VideoResource,
    context: dg.AssetExecutionContext,
) -> dict[str, float]:
    """The tracker's MOTA and IDF1 on the version's val matches (the benchmark's clip of each), combined, at the
    model's own operating point."""
    manifest = pd.read_parquet(checkout / "manifest.parquet", columns=["match_id", "split"])
    matches = sorted(manifest.loc[manifest["split"] == "val", "match_id"].unique())
    if not matches:
        return {}
    store_root = label_store.store().root
    scored = []
    for match_id in matches:
        match = catalog.read("matches", match_id).iloc[0]
        metrics, _ = score_match(
            model,
            int(match.n_frames),
            catalog.read("cleaned_tracks", match_id),
            ClipConfig(),
            video.frame_reader(match.video, base_dir=store_root, log=context.log),
            score_threshold=score_threshold,
        )
        scored.append(metrics)
    overall = combine(scored)
    return {"val_matches": len(matches), "val_mota": overall.mota, "val_idf1": overall.idf1, "val_hota": overall.hota}


def _finite(value: object) -> float:
    return float(value) if isinstance(value, int | float) else float("nan")


def _card_metrics(val: dict) -> dict[str, float]:
    return {k: float(v) for k, v in val.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def _loss_table(history: list[dict[str, float]]) -> str:
    if not history:
        return "no epoch completed"
    columns = list(history[0])
    lines = ["| epoch | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for epoch, row in enumerate(history, start=1):
        lines.append(f"| {epoch} | " + " | ".join(f"{row[c]:.4f}" for c in columns) + " |")
    return "\n".join(lines)
