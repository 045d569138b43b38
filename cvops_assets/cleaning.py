"""Cleaning: judge each match's labels against the best available predictions, then fix what can be fixed."""

from fractions import Fraction

import dagster as dg
import numpy as np
import pandas as pd
from PIL import Image

from cvops.cleaning import CleaningConfig, VideoInfo, clean_match
from cvops.cleaning.agreement import AgreementConfig
from cvops.cleaning.ghosts import GhostConfig
from cvops.cleaning.sync import SyncConfig
from cvops.model import detect
from cvops.model.export import load_torchscript
from cvops_assets.executor import gpu_op_tags
from cvops_assets.labels import raw_labels
from cvops_assets.partitions import matches_partitions
from cvops_resources import CatalogResource, LabelStoreResource, ModelRegistryResource, VideoResource

_SYNC, _GHOSTS, _AGREEMENT = SyncConfig(), GhostConfig(), AgreementConfig()
PREDICTION_BATCH = 32


class PredictionsSettings(dg.Config):
    """Where the predictions that judge the labels come from (see the asset's description)."""

    prefer_production_model: bool = True
    min_model_player_ap50: float = 0.8
    """A production model judges labels only if its validation player AP50 (model card) reaches this."""
    frame_step: int = 1
    """Run the model on every frame_step-th frame (1: every frame; the ghost rule needs dense predictions)."""
    conf_threshold: float = 0.1
    """Keep the model's detections scoring at least this: the tracker's low score, well below a model's operating
    point, because the ghost rule asks whether anybody is there at all, which wants recall. On the demo's
    matches, cleaning with model m0001's detections from 0.35 / 0.2 / 0.1 up removed real rows with a ghost
    precision of 0.56 / 0.74 / 0.79, all true ghosts found (``benchmarks/ghosts_vs_truth.py``)."""


@dg.asset(
    partitions_def=matches_partitions,
    deps=[raw_labels],
    group_name="cleaning",
    kinds={"pandas", "parquet"},
    op_tags=gpu_op_tags(),
    description="The detections that judge a match's labels, in video frames: the registry's production model's "
    "when there is one (and prefer_production_model is on), else the product's det.txt, else none.",
)
def match_predictions(
    context: dg.AssetExecutionContext,
    config: PredictionsSettings,
    label_store: LabelStoreResource,
    catalog: CatalogResource,
    model_registry: ModelRegistryResource,
    video: VideoResource,
) -> dg.MaterializeResult:
    match_id = context.partition_key
    registry = model_registry.registry()
    production = registry.production() if config.prefer_production_model else None
    model_note = ""
    if production is not None:
        ap50 = production.card.metrics.get("player_ap50", float("nan"))
        if not ap50 >= config.min_model_player_ap50:
            model_note = (
                f"production model {production.version} not used: its validation player AP50 {ap50:.3f} is below "
                f"{config.min_model_player_ap50}; "
            )
            production = None
    if production is not None:
        match = catalog.read("matches", match_id).iloc[0]
        frames = list(range(1, int(match.n_frames) + 1, config.frame_step))
        extracted = video.extract(match.video, frames, base_dir=label_store.store().root, log=context.log)
        model = load_torchscript(registry.torchscript_path(production.version))
        detections = model_predictions(model, extracted.to_frame(), config.conf_threshold)
        source, reason = f"model {production.version}", "the registry's production model, run on the match video"
    elif (product := label_store.detections(match_id)) is not None:
        detections = product
        source, reason = "det.txt", model_note + "the product model's detections from the label store"
    else:
        detections = pd.DataFrame(columns=["frame", "x", "y", "w", "h", "conf"])
        source = "none"
        reason = model_note + "no usable production model and no det.txt; model-based cleaning is skipped"
    catalog.write("match_predictions", detections.assign(source=source), match_id)
    context.log.info(f"match {match_id}: {len(detections)} predictions from {source}")
    return dg.MaterializeResult(
        metadata={
            "source": source,
            "reason": reason,
            "predictions": len(detections),
            "frames_with_predictions": int(detections["frame"].nunique()),
            "dagster/row_count": len(detections),
        }
    )


def model_predictions(model, samples: pd.DataFrame, conf_threshold: float) -> pd.DataFrame:
    """Detections of ``model`` on the extracted frames (``frame, path``), as ``frame, x, y, w, h, conf``."""
    rows = []
    for start in range(0, len(samples), PREDICTION_BATCH):
        batch = samples.iloc[start : start + PREDICTION_BATCH]
        images = [np.asarray(Image.open(path).convert("RGB")) for path in batch["path"]]
        for frame, found in zip(batch["frame"], detect(model, images, conf_threshold=conf_threshold), strict=True):
            rows.append(found[["x", "y", "w", "h", "conf"]].assign(frame=int(frame)))
    columns = ["frame", "x", "y", "w", "h", "conf"]
    return pd.concat(rows, ignore_index=True)[columns] if rows else pd.DataFrame(columns=columns)


class CleaningSettings(dg.Config):
    """The main cleaning parameters (docs/cleaning.md explains each; the rest keep their defaults)."""

    max_offset: int = _SYNC.max_offset
    min_abs_offset: float = _SYNC.min_abs_offset
    min_offset_z: float = _SYNC.min_z
    ghost_min_duration_s: float = _GHOSTS.min_duration_s
    ghost_support_ratio: float = _GHOSTS.support_ratio
    ghost_confirm_iou_ratio: float = _GHOSTS.confirm_iou_ratio
    ghost_geometry_max_speed: float = _GHOSTS.geometry_max_speed
    agreement_iou: float = _AGREEMENT.iou_threshold

    def to_domain(self) -> CleaningConfig:
        return CleaningConfig(
            sync=SyncConfig(max_offset=self.max_offset, min_abs_offset=self.min_abs_offset, min_z=self.min_offset_z),
            ghosts=GhostConfig(
                min_duration_s=self.ghost_min_duration_s,
                support_ratio=self.ghost_support_ratio,
                confirm_iou_ratio=self.ghost_confirm_iou_ratio,
                geometry_max_speed=self.ghost_geometry_max_speed,
            ),
            agreement=AgreementConfig(iou_threshold=self.agreement_iou),
        )


@dg.asset(
    partitions_def=matches_partitions,
    deps=[raw_labels, match_predictions],
    group_name="cleaning",
    kinds={"pandas", "parquet"},
    description="Labels after the sync offset is applied and ghost spans are removed, in video frames. "
    "Manifests: cleaned_tracks, match_sync, label_removals, frame_agreement.",
)
def cleaned_tracks(
    context: dg.AssetExecutionContext, config: CleaningSettings, catalog: CatalogResource
) -> dg.MaterializeResult:
    match_id = context.partition_key
    match = catalog.read("matches", match_id).iloc[0]
    video = VideoInfo(
        n_frames=int(match.n_frames), width=int(match.width), height=int(match.height), fps=float(Fraction(match.fps))
    )
    predictions = catalog.read("match_predictions", match_id)
    result = clean_match(
        match_id,
        catalog.read("raw_labels", match_id),
        predictions if len(predictions) else None,
        video,
        config.to_domain(),
    )
    for table in ("cleaned_tracks", "match_sync", "label_removals", "frame_agreement"):
        catalog.write(table, getattr(result, table), match_id)

    summary = result.summary
    for message in result.messages:
        context.log.info(f"match {match_id}: {message}")
    return dg.MaterializeResult(
        metadata={
            "offset": summary["offset"],
            "offset_applied": summary["offset_applied"],
            "best_offset": summary["best_offset"],
            "sync_score": summary["sync_score"],
            "sync_score_at_zero": summary["sync_score_at_zero"],
            "rows_in": summary["rows_in"],
            "rows_kept": summary["rows_kept"],
            "rows_removed": summary["rows_removed"],
            "ghost_spans": summary["ghost_spans"],
            "agreement": summary["agreement"],
            "messages": dg.MetadataValue.md("\n".join(f"- {m}" for m in result.messages) or "none"),
            "dagster/row_count": summary["rows_kept"],
        }
    )
