"""The dynamic benchmark: samples only added, results per (model, sample), fair comparison, promotion."""

import json
import warnings

import dagster as dg
import pandas as pd

from cvops.benchmark import decide_promotion, leaderboard, update_membership, verify_append_only
from cvops.benchmark.membership import current_generation, current_samples, empty_membership
from cvops.benchmark.scoring import ClipConfig, result_row, score_match
from cvops.metrics import ErrorWeights
from cvops.model.export import load_torchscript
from cvops.registry import Stage
from cvops.selection import SPLIT_VAL, export_split
from cvops_assets.automation import on_any_match_update
from cvops_assets.cleaning import cleaned_tracks
from cvops_assets.executor import gpu_op_tags
from cvops_assets.models import trained_model
from cvops_assets.partitions import model_match_partitions
from cvops_assets.selection import match_selection
from cvops_resources import CatalogResource, LabelStoreResource, ModelRegistryResource, VideoResource

_CLIP, _WEIGHTS = ClipConfig(), ErrorWeights()

# Mapping a (model, match) partition to its match is "beta" in Dagster 1.13; it is exactly what the benchmark needs.
warnings.filterwarnings("ignore", category=dg.BetaWarning, message=".*MultiToSingleDimensionPartitionMapping.*")


@dg.asset(
    deps=[match_selection],
    group_name="benchmark",
    kinds={"pandas", "parquet"},
    automation_condition=on_any_match_update,
    description="The benchmark's samples: each val match joins the first time it is selected and is never removed "
    "or changed (append-only; `cvops benchmark invalidate` starts a new generation explicitly).",
)
def benchmark_samples(context: dg.AssetExecutionContext, catalog: CatalogResource) -> dg.MaterializeResult:
    before = catalog.read("benchmark_samples")
    before = before if len(before) else empty_membership()
    selection = catalog.read("match_selection")
    val = [m for m in selection["match_id"].astype(str) if export_split(selection, m) == SPLIT_VAL]
    after = update_membership(before, val)
    verify_append_only(before, after)
    if after is not before:
        catalog.write("benchmark_samples", after)
    samples = current_samples(after)
    added = sorted(set(samples) - set(current_samples(before)))
    context.log.info(f"benchmark generation {current_generation(after)}: {len(samples)} samples, added {added}")
    return dg.MaterializeResult(
        metadata={"generation": current_generation(after), "samples": len(samples), "added": ", ".join(added) or "-"}
    )


class BenchmarkClipSettings(dg.Config):
    """Which frames of a sample are scored (see ``cvops.benchmark.scoring.ClipConfig``)."""

    start: int = _CLIP.start
    length: int = _CLIP.length
    stride: int = _CLIP.stride
    conf_threshold: float = _CLIP.conf_threshold

    def to_domain(self) -> ClipConfig:
        return ClipConfig(start=self.start, length=self.length, stride=self.stride, conf_threshold=self.conf_threshold)


@dg.asset(
    partitions_def=model_match_partitions,
    deps=[
        dg.AssetDep(cleaned_tracks, partition_mapping=dg.MultiToSingleDimensionPartitionMapping("match")),
        trained_model,
        benchmark_samples,
    ],
    group_name="benchmark",
    kinds={"pytorch"},
    op_tags=gpu_op_tags(),
    description="One model version tracked on one benchmark sample's clip, scored against its cleaned labels "
    "(HOTA, DetA, AssA, MOTA, IDF1, errors). benchmark_sensor requests only the pairs not computed yet.",
)
def benchmark_results(
    context: dg.AssetExecutionContext,
    config: BenchmarkClipSettings,
    catalog: CatalogResource,
    label_store: LabelStoreResource,
    video: VideoResource,
    model_registry: ModelRegistryResource,
) -> dg.MaterializeResult:
    keys = context.partition_key.keys_by_dimension
    model_version, match_id = keys["model"], keys["match"]
    membership = catalog.read("benchmark_samples")
    if match_id not in current_samples(membership):
        raise dg.Failure(f"match {match_id} is not a sample of the current benchmark generation")
    registry = model_registry.registry()
    model = load_torchscript(registry.torchscript_path(model_version))
    threshold = registry.get(model_version).card.metrics.get("track_score_threshold")
    match = catalog.read("matches", match_id).iloc[0]
    metrics, n_frames = score_match(
        model,
        int(match.n_frames),
        catalog.read("cleaned_tracks", match_id),
        config.to_domain(),
        video.frame_reader(match.video, base_dir=label_store.store().root, log=context.log),
        score_threshold=threshold,
    )
    row = result_row(model_version, current_generation(membership), metrics, n_frames)
    catalog.upsert("benchmark_results", pd.DataFrame([row]), key=["model_version"], match_id=match_id)
    return dg.MaterializeResult(
        metadata={
            "model_version": model_version,
            "match_id": match_id,
            "frames": n_frames,
            "track_score_threshold": float("nan") if threshold is None else threshold,
            **{name: float(row[name]) for name in ("hota", "deta", "assa", "mota", "idf1")},
            **{name: int(row[name]) for name in ("id_switches", "fp", "fn")},
        }
    )


class LeaderboardSettings(dg.Config):
    """Weights of the error score (per ground-truth box) and the gain a candidate needs to be promoted."""

    fn_weight: float = _WEIGHTS.fn
    fp_weight: float = _WEIGHTS.fp
    id_switch_weight: float = _WEIGHTS.id_switches
    min_relative_gain: float = 0.02

    def weights(self) -> ErrorWeights:
        return ErrorWeights(fn=self.fn_weight, fp=self.fp_weight, id_switches=self.id_switch_weight)


def _current_results(catalog: CatalogResource) -> tuple[pd.DataFrame, list[str]]:
    membership = catalog.read("benchmark_samples")
    results = catalog.read("benchmark_results")
    generation = current_generation(membership)
    return results[results["generation"] == generation], current_samples(membership)


@dg.asset(
    deps=[benchmark_results],
    group_name="benchmark",
    kinds={"pandas"},
    automation_condition=on_any_match_update,
    description="Every model ranked by weighted error over the samples all of them were evaluated on; then, for "
    "each candidate whose pairs are complete, the promotion decision against production (audited in the registry).",
)
def benchmark_leaderboard(
    context: dg.AssetExecutionContext,
    config: LeaderboardSettings,
    catalog: CatalogResource,
    model_registry: ModelRegistryResource,
) -> dg.MaterializeResult:
    results, samples = _current_results(catalog)
    board = leaderboard(results, samples=samples, weights=config.weights())
    registry = model_registry.registry(actor=f"dagster run {context.run_id}")
    decisions = []
    for candidate in registry.list(stage=Stage.CANDIDATE):
        evaluated = set(results.loc[results["model_version"] == candidate.version, "match_id"])
        if not samples or not set(samples) <= evaluated:
            decisions.append(f"{candidate.version}: waiting for its benchmark pairs ({len(evaluated)}/{len(samples)})")
            continue
        production = registry.production()
        compared = [candidate.version] + ([production.version] if production else [])
        pair_board = leaderboard(results, models=compared, samples=samples, weights=config.weights())
        decision = decide_promotion(
            candidate.version,
            production.version if production else None,
            pair_board,
            min_relative_gain=config.min_relative_gain,
        )
        if decision.promote:
            registry.promote(candidate.version, reason=decision.reason)
        elif not _already_decided(registry, candidate.version, decision.reason):
            registry.reject(candidate.version, reason=decision.reason)
        verdict = "promoted" if decision.promote else "stays candidate"
        decisions.append(f"{candidate.version}: {verdict}: {decision.reason}")
        context.log.info(decisions[-1])
    production = registry.production()
    return dg.MaterializeResult(
        metadata={
            "leaderboard": dg.MetadataValue.md(board.markdown()),
            "common_samples": len(board.common_samples),
            "production": production.version if production else "none",
            "decisions": dg.MetadataValue.md("\n".join(f"- {d}" for d in decisions) or "no candidate to decide"),
            "ranking": json.dumps([r.model_version for r in board.rows]),
        }
    )


def _already_decided(registry, version: str, reason: str) -> bool:
    """A rejection with the same reason is recorded once, not on every leaderboard refresh."""
    return any(
        entry.get("version") == version and entry.get("action") == "reject" and entry.get("reason") == reason
        for entry in registry.audit_log()
    )
