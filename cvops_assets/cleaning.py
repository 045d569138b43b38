"""Cleaning: judge each match's labels against the best available predictions, then fix what can be fixed."""

from fractions import Fraction

import dagster as dg

from cvops.cleaning import CleaningConfig, VideoInfo, clean_match
from cvops.cleaning.agreement import AgreementConfig
from cvops.cleaning.ghosts import GhostConfig
from cvops.cleaning.sync import SyncConfig
from cvops.model.export import load_torchscript
from cvops.model.predict import (
    PredictionConfig,
    choose_prediction_source,
    empty_predictions,
    predict_frames,
    prediction_frames,
)
from cvops_assets.executor import gpu_op_tags
from cvops_assets.labels import raw_labels
from cvops_assets.partitions import matches_partitions
from cvops_resources import CatalogResource, LabelStoreResource, ModelRegistryResource, VideoResource

_SYNC, _GHOSTS, _AGREEMENT, _PREDICTIONS = SyncConfig(), GhostConfig(), AgreementConfig(), PredictionConfig()


class PredictionsSettings(dg.Config):
    """Where the predictions that judge the labels come from (see ``cvops.model.predict.PredictionConfig``)."""

    prefer_production_model: bool = _PREDICTIONS.prefer_production_model
    min_model_player_ap50: float = _PREDICTIONS.min_model_player_ap50
    frame_step: int = _PREDICTIONS.frame_step
    conf_threshold: float = _PREDICTIONS.conf_threshold

    def to_domain(self) -> PredictionConfig:
        return PredictionConfig(**self.model_dump())


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
    settings = config.to_domain()
    registry = model_registry.registry()
    production = registry.production()
    product_detections = label_store.detections(match_id)
    source = choose_prediction_source(
        production.version if production else None,
        production.card.metrics.get("player_ap50") if production else None,
        product_detections is not None,
        settings,
    )
    if source.model_version is not None:
        match = catalog.read("matches", match_id).iloc[0]
        frames = prediction_frames(int(match.n_frames), settings)
        extracted = video.extract(match.video, frames, base_dir=label_store.store().root, log=context.log).to_frame()
        model = load_torchscript(registry.torchscript_path(source.model_version))
        detections = predict_frames(
            model, extracted["frame"].tolist(), extracted["path"].tolist(), settings.conf_threshold
        )
    elif product_detections is not None:
        detections = product_detections
    else:
        detections = empty_predictions()
    catalog.write("match_predictions", detections.assign(source=source.label), match_id)
    context.log.info(f"match {match_id}: {len(detections)} predictions from {source.label}")
    return dg.MaterializeResult(
        metadata={
            "source": source.label,
            "reason": source.reason,
            "predictions": len(detections),
            "frames_with_predictions": int(detections["frame"].nunique()),
            "dagster/row_count": len(detections),
        }
    )


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
