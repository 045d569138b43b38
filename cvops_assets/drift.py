"""Drift: does a new match's data depart from the matches already in the platform? (docs/drift.md)

For each match whose frames are selected, its statistics (players per frame, box sizes, share of frames kept,
agreement with the predictions, label freshness) are stored in ``match_statistics`` and compared with the
reference matches' statistics; the findings go to ``match_drift``, which the ``match_drift`` check turns into a
warning. Drift only ever warns: a drifted match is not wrong, it is new, and the person who sees the warning decides.
"""

import dagster as dg
import pandas as pd
from pydantic import Field

from cvops.catalog import Catalog
from cvops.drift import (
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
from cvops_assets.automation import once_per_match
from cvops_assets.catalog_tables import table_asset
from cvops_assets.run_config import run_config
from cvops_resources import CatalogResource

_INPUT_TABLES = ("cleaned_tracks", "selected_frames", "frame_exclusions", "frame_agreement")
_LISTED_REFERENCE_IDS = 20
DRIFT_DEPS = [*_INPUT_TABLES, "matches", "match_predictions"]


class DriftRunConfig(run_config(DriftConfig)):
    """The reference and the thresholds of the drift tests (``cvops.drift.DriftConfig`` documents each)."""

    reference_matches: list[str] = Field(
        default_factory=list,
        description="Compare with these matches only; empty means every other match that has statistics.",
    )
    max_samples: int = Field(
        default=DEFAULT_MAX_SAMPLES,
        description="Values kept per distribution and match (a random sample) for the two-sample tests.",
    )


@dg.multi_asset(
    name="measure_drift",
    specs=[
        table_asset(name, deps=DRIFT_DEPS, group_name="drift", automation_condition=once_per_match)
        for name in ("match_statistics", "match_drift")
    ],
    description="Summarises a match (match_statistics) and compares it with the reference matches: two-sample "
    "tests with an effect-size guard, one finding per statistic (match_drift).",
)
def measure_drift(context: dg.AssetExecutionContext, config: DriftRunConfig, catalog: CatalogResource):
    match_id = context.partition_key
    tables = catalog.get_catalog()
    missing: list[str] = []
    inputs = {table: _read_partition(tables, table, match_id, missing) for table in _INPUT_TABLES}
    match = _read_partition(tables, "matches", match_id, missing)
    record = match.iloc[0] if len(match) else None

    stats = match_statistics(
        match_id,
        **inputs,
        prediction_source=_prediction_source(tables, match_id),
        n_frames=int(record["n_frames"]) if record is not None else None,
        kickoff=record["kickoff"] if record is not None else None,
        annotated_at=record["annotated_at"] if record is not None else None,
        max_samples=config.max_samples,
    )
    tables.write("match_statistics", stats.as_frame(), match_id)

    wanted = config.reference_matches or None
    reference = reference_statistics(tables.read("match_statistics"), match_id, wanted)
    report = compare_to_reference(stats, reference, config.to_domain())
    tables.write("match_drift", report.as_frame(pd.Timestamp.now(tz="UTC")), match_id)

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
    yield dg.MaterializeResult(asset_key="match_statistics", metadata=_statistics_metadata(stats))
    yield dg.MaterializeResult(asset_key="match_drift", metadata=_report_metadata(report, notes))


def _read_partition(tables: Catalog, table: str, match_id: str, missing: list[str]) -> pd.DataFrame:
    """The match's rows of ``table``, or an empty table of the right columns (noted in ``missing``)."""
    try:
        return tables.read(table, match_id)
    except CvopsError:
        missing.append(table)
        return tables.manifests.spec(table).schema.empty_table().to_pandas()


def _prediction_source(tables: Catalog, match_id: str) -> str:
    """The ``source`` of the match's predictions, reading only that column (there may be millions of rows)."""
    try:
        return prediction_source_of(tables.read("match_predictions", match_id, columns=["source"]))
    except CvopsError:  # no predictions stored for the match
        return prediction_source_of(pd.DataFrame())


def _statistics_metadata(stats: MatchStatistics) -> dict[str, object]:
    metadata: dict[str, object] = {
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
    return metadata


def _report_metadata(report: DriftReport, notes: list[str]) -> dict[str, object]:
    ids = list(report.reference_ids)
    listed = ", ".join(ids[:_LISTED_REFERENCE_IDS]) + (
        f" and {len(ids) - _LISTED_REFERENCE_IDS} more" if len(ids) > _LISTED_REFERENCE_IDS else ""
    )
    metadata: dict[str, object] = {
        "status": report.status,
        "message": report.message,
        "drifted_statistics": len(report.drifted),
        "tested_statistics": len(report.findings) - len(report.skipped),
        "skipped_statistics": len(report.skipped),
        "reference_matches": len(ids),
        "reference": listed or "none",
        "findings": dg.MetadataValue.md(report.markdown()),
    }
    if notes:
        metadata["notes"] = dg.MetadataValue.md("\n".join(f"- {n}" for n in notes))
    return metadata
