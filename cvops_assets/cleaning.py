"""Cleaning: judge each match's labels against the best available predictions, then fix what can be fixed."""

from fractions import Fraction

import dagster as dg

from cvops.cleaning import CleaningConfig, VideoInfo, clean_match
from cvops.model.export import load_torchscript
from cvops.model.predict import (
    PredictionConfig,
    choose_prediction_source,
    empty_predictions,
    predict_frames,
    prediction_frames,
    with_roles,
)
from cvops.video import progress_reporter
from cvops_assets.catalog_tables import label_store, table_asset
from cvops_assets.executor import gpu_op_tags
from cvops_assets.run_config import run_config
from cvops_resources import CatalogResource, LabelStoreResource, ModelRegistryResource, VideoResource

PredictionRunConfig = run_config(PredictionConfig)
CleaningRunConfig = run_config(CleaningConfig)
CLEANING_TABLES = ("cleaned_tracks", "match_sync", "label_removals", "frame_agreement")


@dg.multi_asset(
    name="match_predictions",
    # raw_labels is not read: depending on it makes its blocking checks stop a model run on a broken match.
    specs=[table_asset("match_predictions", deps=["raw_labels", "matches", label_store], group_name="cleaning")],
    op_tags=gpu_op_tags(),
    description="The detections that judge a match's labels, in video frames: the registry's production model's "
    "when it is good enough (see PredictionConfig), else the product's det.txt, else none.",
)
def match_predictions(
    context: dg.AssetExecutionContext,
    config: PredictionRunConfig,
    label_store: LabelStoreResource,
    catalog: CatalogResource,
    model_registry: ModelRegistryResource,
    video: VideoResource,
) -> dg.MaterializeResult:
    match_id = context.partition_key
    settings: PredictionConfig = config.to_domain()
    store, registry = label_store.get_store(), model_registry.get_registry()
    production = registry.production()
    product_detections = store.read_detections(match_id)
    source = choose_prediction_source(
        production.version if production else None,
        production.card.metrics.get("player_ap50") if production else None,
        product_detections is not None,
        settings,
    )
    if source.model_version is not None:
        record = store.match(match_id)  # annotated, or awaiting annotation (its review queue)
        progress = progress_reporter(context.log.info, label=f"match {match_id}")
        extracted = video.get_extractor().extract(
            record.video, prediction_frames(record.n_frames, settings), base_dir=store.root, progress=progress
        )
        samples = extracted.to_frame()
        model = load_torchscript(registry.torchscript_path(source.model_version))
        detections = predict_frames(model, samples["frame"].tolist(), samples["path"].tolist(), settings.conf_threshold)
    elif product_detections is not None:
        detections = product_detections
    else:
        detections = empty_predictions()
    catalog.get_catalog().write("match_predictions", with_roles(detections).assign(source=source.label), match_id)
    context.log.info(f"match {match_id}: {len(detections)} predictions from {source.label}")
    return dg.MaterializeResult(
        asset_key="match_predictions",
        metadata={
            "source": source.label,
            "reason": source.reason,
            "predictions": len(detections),
            "frames_with_predictions": int(detections["frame"].nunique()),
            "dagster/row_count": len(detections),
        },
    )


@dg.multi_asset(
    name="clean_labels",
    specs=[
        table_asset(name, deps=["raw_labels", "matches", "match_predictions"], group_name="cleaning")
        for name in CLEANING_TABLES
    ],
    description="Applies the match's sync offset and removes ghost spans (labels in video frames afterwards), "
    "and measures per frame how well labels and predictions agree (docs/cleaning.md).",
)
def clean_labels(context: dg.AssetExecutionContext, config: CleaningRunConfig, catalog: CatalogResource):
    match_id = context.partition_key
    tables = catalog.get_catalog()
    match = tables.read("matches", match_id).iloc[0]
    video = VideoInfo(
        n_frames=int(match.n_frames), width=int(match.width), height=int(match.height), fps=float(Fraction(match.fps))
    )
    predictions = tables.read("match_predictions", match_id)
    result = clean_match(
        match_id,
        tables.read("raw_labels", match_id),
        predictions if len(predictions) else None,
        video,
        config.to_domain(),
    )
    for table in CLEANING_TABLES:
        tables.write(table, getattr(result, table), match_id)
    for message in result.messages:
        context.log.info(f"match {match_id}: {message}")

    summary = result.summary
    yield dg.MaterializeResult(
        asset_key="cleaned_tracks",
        metadata={
            "rows_in": summary["rows_in"],
            "rows_kept": summary["rows_kept"],
            "rows_removed": summary["rows_removed"],
            "ghost_spans": summary["ghost_spans"],
            "messages": dg.MetadataValue.md("\n".join(f"- {m}" for m in result.messages) or "none"),
            "dagster/row_count": summary["rows_kept"],
        },
    )
    yield dg.MaterializeResult(
        asset_key="match_sync",
        metadata={
            "offset": summary["offset"],
            "offset_applied": summary["offset_applied"],
            "best_offset": summary["best_offset"],
            "sync_score": summary["sync_score"],
            "sync_score_at_zero": summary["sync_score_at_zero"],
        },
    )
    yield dg.MaterializeResult(asset_key="label_removals", metadata={"dagster/row_count": len(result.label_removals)})
    yield dg.MaterializeResult(
        asset_key="frame_agreement",
        metadata={"agreement": summary["agreement"], "dagster/row_count": len(result.frame_agreement)},
    )
