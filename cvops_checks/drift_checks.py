"""The ``match_drift`` asset check: does a match's data depart from the matches already in the platform?

It runs on ``selected_frames`` for each match partition (everything it summarises exists once that asset has
materialised), stores the match's statistics in the catalog (``match_statistics``), compares them with the
reference matches' statistics (``cvops.drift.compare_to_reference``) and stores the findings (``match_drift``).
It only ever warns: a drifted match is not wrong, it is new, and the person who sees the warning decides (see
docs/drift.md for what each warning means and what to do).
"""

import warnings

import dagster as dg
import pandas as pd
import pyarrow.parquet as pq
from pydantic import Field

from cvops.drift import (
    STATUS_DRIFT,
    STATUS_SKIPPED,
    DriftConfig,
    DriftReport,
    MatchStatistics,
    compare_to_reference,
    match_statistics,
    prediction_source_of,
    reference_statistics,
)
from cvops.drift.stats import BOX_HEIGHT, DEFAULT_MAX_SAMPLES, PLAYERS_PER_FRAME
from cvops.errors import CvopsError
from cvops_assets.partitions import matches_partitions
from cvops_resources import CatalogResource

# Checks per partition are marked "preview" in Dagster 1.13; they are what makes a check's verdict belong to one
# match, so we use them and silence the one warning they raise (as cvops_checks.label_checks does).
warnings.filterwarnings("ignore", category=dg.PreviewWarning, message=".*partitions_def on an AssetCheckSpec.*")

_DEFAULTS = DriftConfig()
_INPUT_TABLES = ("cleaned_tracks", "selected_frames", "frame_exclusions", "frame_agreement")
_LISTED_REFERENCE_IDS = 20


class DriftCheckConfig(dg.Config):
    """The reference and the thresholds of the drift tests (``cvops.drift.DriftConfig`` documents each)."""

    reference_matches: list[str] = Field(default_factory=list)
    """Compare with these matches only; empty means every other match that has statistics."""
    max_samples: int = DEFAULT_MAX_SAMPLES
    """Values kept per distribution and match (a random sample) for the two-sample tests."""
    alpha: float = _DEFAULTS.alpha
    min_ks_statistic: float = _DEFAULTS.min_ks_statistic
    min_relative_shift: float = _DEFAULTS.min_relative_shift
    nearest_guard: bool = _DEFAULTS.nearest_guard
    max_robust_z: float = _DEFAULTS.max_robust_z
    kept_share_min_scale: float = _DEFAULTS.kept_share_min_scale
    freshness_min_scale_days: float = _DEFAULTS.freshness_min_scale_days
    min_reference_matches: int = _DEFAULTS.min_reference_matches
    min_samples: int = _DEFAULTS.min_samples
    max_pooled_samples: int = _DEFAULTS.max_pooled_samples

    def to_domain(self) -> DriftConfig:
        return DriftConfig(**self.model_dump(exclude={"reference_matches", "max_samples"}))


@dg.asset_check(
    asset="selected_frames",
    name="match_drift",
    partitions_def=matches_partitions,
    blocking=False,
    description="Warns when a match's players per frame, box sizes, share of frames kept, agreement with the "
    "predictions or label freshness depart from the reference matches (two-sample tests with an effect-size "
    "guard; docs/drift.md). Stores match_statistics and match_drift in the catalog.",
)
def match_drift_check(
    context: dg.AssetCheckExecutionContext, config: DriftCheckConfig, catalog: CatalogResource
) -> dg.AssetCheckResult:
    """Summarise the match, compare it with the reference and report the findings (never blocking).

    The reference is every *other* match that has statistics (or the matches named in the config). It should
    become the matches of the latest dataset version once dataset versions are in the catalog: drift then means
    "unlike what the current model was trained on".
    """
    match_id = context.partition_key
    missing: list[str] = []
    tables = {table: _read_partition(catalog, table, match_id, missing) for table in _INPUT_TABLES}
    match = _read_partition(catalog, "matches", match_id, missing)
    record = match.iloc[0] if len(match) else None

    stats = match_statistics(
        match_id,
        **tables,
        prediction_source=_prediction_source(catalog, match_id),
        n_frames=int(record["n_frames"]) if record is not None else None,
        kickoff=record["kickoff"] if record is not None else None,
        annotated_at=record["annotated_at"] if record is not None else None,
        max_samples=config.max_samples,
    )
    catalog.write("match_statistics", stats.as_frame(), match_id)

    wanted = config.reference_matches or None
    reference = reference_statistics(catalog.read("match_statistics"), match_id, wanted)
    report = compare_to_reference(stats, reference, config.to_domain())
    catalog.write("match_drift", report.as_frame(pd.Timestamp.now(tz="UTC")), match_id)

    notes = []
    if missing:
        notes.append(f"no {', '.join(missing)} for this match: summarised as empty")
    if wanted:
        absent = sorted(set(wanted) - {r.match_id for r in reference} - {match_id})
        if absent:
            notes.append(f"reference matches without statistics yet: {', '.join(absent)}")
    for note in notes:
        context.log.warning(f"match {match_id}: {note}")
    context.log.info(f"match {match_id}: {report.message}")
    return dg.AssetCheckResult(
        passed=report.status != STATUS_DRIFT,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join([report.message, *notes]),
        metadata=_metadata(stats, report, notes),
    )


def _read_partition(catalog: CatalogResource, table: str, match_id: str, missing: list[str]) -> pd.DataFrame:
    """The match's rows of ``table``, or an empty table of the right columns (noted in ``missing``)."""
    try:
        return catalog.read(table, match_id)
    except CvopsError:
        missing.append(table)
        return catalog.manifests.spec(table).schema.empty_table().to_pandas()


def _prediction_source(catalog: CatalogResource, match_id: str) -> str:
    """The ``source`` of the match's predictions, reading only that column (there may be millions of rows)."""
    path = catalog.manifests.file("match_predictions", match_id)
    if not path.exists():
        return prediction_source_of(pd.DataFrame())
    return prediction_source_of(pq.read_table(path, columns=["source"]).to_pandas())


def _metadata(stats: MatchStatistics, report: DriftReport, notes: list[str]) -> dict[str, object]:
    ids = list(report.reference_ids)
    listed = ", ".join(ids[:_LISTED_REFERENCE_IDS]) + (
        f" and {len(ids) - _LISTED_REFERENCE_IDS} more" if len(ids) > _LISTED_REFERENCE_IDS else ""
    )
    metadata: dict[str, object] = {
        "status": report.status,
        "drifted_statistics": len(report.drifted),
        "tested_statistics": sum(f.status != STATUS_SKIPPED for f in report.findings),
        "skipped_statistics": len(report.skipped),
        "reference_matches": len(ids),
        "reference": listed or "none",
        "findings": dg.MetadataValue.md(report.markdown()),
        "prediction_source": stats.prediction_source,
        "player_boxes": stats.n_player_boxes,
        "candidate_frames": stats.candidate_frames,
    }
    summary = {
        "players_per_frame_mean": stats.distributions[PLAYERS_PER_FRAME].mean,
        "box_height_median": stats.distributions[BOX_HEIGHT].median,
        "kept_share": stats.kept_share,
        "freshness_days": stats.freshness_days,
    }
    # NaN (nothing to measure) is left out rather than shown as a number.
    metadata.update({key: round(value, 4) for key, value in summary.items() if pd.notna(value)})
    if notes:
        metadata["notes"] = dg.MetadataValue.md("\n".join(f"- {n}" for n in notes))
    return metadata
