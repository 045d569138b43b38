"""The dynamic benchmark: samples only added, results per (model, sample), fair comparison, then promotion."""

import base64
import json

import dagster as dg
import pandas as pd
import torch

from cvops.benchmark import (
    PromotionPolicy,
    current_generation,
    current_results,
    current_samples,
    decide_candidates,
    leaderboard,
    update_membership,
    verify_append_only,
)
from cvops.benchmark.learning_curve import curve_markdown, learning_curve, plot_curve
from cvops.benchmark.membership import empty_membership
from cvops.benchmark.scoring import ClipConfig, result_row, score_match
from cvops.model.export import load_torchscript
from cvops.registry import models_frame
from cvops.selection import SPLIT_VAL, export_split
from cvops.video import progress_reporter
from cvops_assets.automation import on_any_dep_update
from cvops_assets.catalog_tables import label_store, table_asset
from cvops_assets.executor import gpu_op_tags
from cvops_assets.partitions import model_match_partitions
from cvops_assets.run_config import run_config
from cvops_resources import CatalogResource, LabelStoreResource, ModelRegistryResource, VideoResource

ClipRunConfig = run_config(ClipConfig)
PromotionRunConfig = run_config(PromotionPolicy)
_BY_MATCH = dg.MultiToSingleDimensionPartitionMapping("match")


@dg.multi_asset(
    name="benchmark_samples",
    specs=[
        table_asset(
            "benchmark_samples",
            deps=["match_selection"],
            group_name="benchmark",
            automation_condition=on_any_dep_update,
        )
    ],
    description="Adds each val match to the benchmark the first time it is selected; never removes or changes one "
    "(append-only; `cvops benchmark invalidate` starts a new generation explicitly).",
)
def benchmark_samples(context: dg.AssetExecutionContext, catalog: CatalogResource) -> dg.MaterializeResult:
    tables = catalog.get_catalog()
    before = tables.read("benchmark_samples")
    before = before if len(before) else empty_membership()
    selection = tables.read("match_selection")
    val = [m for m in selection["match_id"].astype(str) if export_split(selection, m) == SPLIT_VAL]
    after = update_membership(before, val)
    verify_append_only(before, after)
    if after is not before:
        tables.write("benchmark_samples", after)
    samples = current_samples(after)
    added = sorted(set(samples) - set(current_samples(before)))
    context.log.info(f"benchmark generation {current_generation(after)}: {len(samples)} samples, added {added}")
    return dg.MaterializeResult(
        asset_key="benchmark_samples",
        metadata={"generation": current_generation(after), "samples": len(samples), "added": ", ".join(added) or "-"},
    )


@dg.multi_asset(
    name="benchmark_results",
    specs=[
        table_asset(
            "benchmark_results",
            deps=[
                dg.AssetDep("cleaned_tracks", partition_mapping=_BY_MATCH),
                dg.AssetDep("matches", partition_mapping=_BY_MATCH),
                "trained_model",
                "benchmark_samples",
                label_store,
            ],
            group_name="benchmark",
            kinds={"pytorch", "parquet"},
            partitions_def=model_match_partitions,
        )
    ],
    op_tags=gpu_op_tags(),
    description="One model version tracked on one benchmark sample's clip, scored against its cleaned labels "
    "(HOTA, DetA, AssA, MOTA, IDF1, errors). benchmark_sensor requests only the pairs not computed yet.",
)
def benchmark_results(
    context: dg.AssetExecutionContext,
    config: ClipRunConfig,
    catalog: CatalogResource,
    label_store: LabelStoreResource,
    video: VideoResource,
    model_registry: ModelRegistryResource,
) -> dg.MaterializeResult:
    keys = context.partition_key.keys_by_dimension
    model_version, match_id = keys["model"], keys["match"]
    tables = catalog.get_catalog()
    membership = tables.read("benchmark_samples")
    if match_id not in current_samples(membership):
        raise dg.Failure(f"match {match_id} is not a sample of the current benchmark generation")
    registry, store = model_registry.get_registry(), label_store.get_store()
    model = load_torchscript(registry.torchscript_path(model_version))
    threshold = registry.get(model_version).card.metrics.get("track_score_threshold")
    record = store.annotated_match(match_id)
    progress = progress_reporter(context.log.info, label=f"match {match_id}")
    metrics, n_frames = score_match(
        model,
        record.n_frames,
        tables.read("cleaned_tracks", match_id),
        config.to_domain(),
        video.get_extractor().frame_reader(record.video, base_dir=store.root, progress=progress),
        score_threshold=threshold,
    )
    row = result_row(model_version, current_generation(membership), metrics, n_frames)
    tables.upsert("benchmark_results", pd.DataFrame([row]), key=["model_version"], match_id=match_id)
    return dg.MaterializeResult(
        asset_key="benchmark_results",
        metadata={
            "model_version": model_version,
            "match_id": match_id,
            "frames": n_frames,
            "track_score_threshold": float("nan") if threshold is None else threshold,
            "torch_threads": torch.get_num_threads(),
            **{name: float(row[name]) for name in ("hota", "deta", "assa", "mota", "idf1")},
            **{name: int(row[name]) for name in ("id_switches", "fp", "fn")},
        },
    )


RANKING_DEPS = ["benchmark_results", "benchmark_samples"]


@dg.multi_asset(
    name="rank_and_promote",
    specs=[
        dg.AssetSpec(
            "benchmark_leaderboard",
            deps=RANKING_DEPS,
            group_name="benchmark",
            kinds={"pandas"},
            automation_condition=on_any_dep_update,
            description="Every model ranked by weighted error over the samples all of them were evaluated on (the "
            "current benchmark generation).",
        ),
        dg.AssetSpec(
            "model_promotion",
            deps=RANKING_DEPS,
            group_name="benchmark",
            kinds={"pandas"},
            automation_condition=on_any_dep_update,
            description="The decision on every candidate whose benchmark pairs are complete: promoted when its "
            "weighted error is lower than production's by the policy's margin on the samples both were evaluated "
            "on, else kept as a candidate with the reason. Every decision goes to the registry's audit log.",
        ),
        table_asset(
            "learning_curve",
            deps=[*RANKING_DEPS, "dataset_samples"],
            group_name="benchmark",
            automation_condition=on_any_dep_update,
        ),
    ],
    description="Ranks the models on the benchmark, decides promotions with the same weights, and plots the "
    "return on data (every model's error against its dataset's size).",
)
def rank_and_promote(
    context: dg.AssetExecutionContext,
    config: PromotionRunConfig,
    catalog: CatalogResource,
    model_registry: ModelRegistryResource,
):
    policy: PromotionPolicy = config.to_domain()
    tables = catalog.get_catalog()
    membership = tables.read("benchmark_samples")
    samples = current_samples(membership)
    results = current_results(membership, tables.read("benchmark_results"))
    board = leaderboard(results, samples=samples, weights=policy.weights)
    registry = model_registry.get_registry(actor=f"dagster run {context.run.run_id}")
    decisions = decide_candidates(registry, results, samples, policy)
    for decision in decisions:
        context.log.info(decision)
    production = registry.production()
    yield dg.MaterializeResult(
        asset_key="model_promotion",
        metadata={
            "production": production.version if production else "none",
            "decisions": dg.MetadataValue.md("\n".join(f"- {d}" for d in decisions) or "no candidate to decide"),
        },
    )

    # The curve after the decisions, so that it shows the stages they left.
    curve = learning_curve(
        results, samples, models_frame(registry.state()), tables.read("dataset_samples"), weights=policy.weights
    )
    tables.write("learning_curve", curve)
    plot = catalog.paths().reports / "learning_curve.png"
    png = plot_curve(curve, plot)
    yield dg.MaterializeResult(
        asset_key="learning_curve",
        metadata={"models": len(curve), "plot": dg.MetadataValue.path(str(plot))},
    )
    yield dg.MaterializeResult(
        asset_key="benchmark_leaderboard",
        metadata={
            "leaderboard": dg.MetadataValue.md(board.markdown()),
            "common_samples": len(board.common_samples),
            "ranking": json.dumps([r.model_version for r in board.rows]),
            "learning_curve": dg.MetadataValue.md(curve_markdown(curve)),
            "learning_curve_plot": dg.MetadataValue.md(
                f"![learning curve](data:image/png;base64,{base64.b64encode(png).decode()})"
            ),
        },
    )
