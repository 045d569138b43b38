"""Raw labels: each match's keyframes, interpolated as the product shows them, and the quality of those labels."""

import dagster as dg
import pandas as pd

from cvops.expectations import LabelCheckConfig, MatchGeometry, check_results_table, validate_labels
from cvops.labels import interpolate_keyframes, matches_frame
from cvops.labels.summary import summarize_labels
from cvops.redaction import redact_url
from cvops_assets.catalog_tables import label_store, table_asset
from cvops_assets.partitions import matches_partitions
from cvops_assets.run_config import run_config
from cvops_resources import CatalogResource, LabelStoreResource

LabelCheckRunConfig = run_config(LabelCheckConfig)


@dg.multi_asset(
    name="read_match_labels",
    specs=[
        table_asset("matches", deps=[label_store], group_name="labels"),
        table_asset("raw_labels", deps=[label_store], group_name="labels"),
        table_asset("label_check_results", deps=[label_store], group_name="labels"),
    ],
    partitions_def=matches_partitions,
    description="Reads one match from the label store: its matches.csv row, its keyframe corrections linearly "
    "interpolated as the product does (ghosts included; label frame numbering) and the outcome of every Great "
    "Expectations suite on them (the raw_labels checks report them).",
)
def read_match_labels(
    context: dg.AssetExecutionContext,
    config: LabelCheckRunConfig,
    label_store: LabelStoreResource,
    catalog: CatalogResource,
):
    match_id = context.partition_key
    store = label_store.get_store()
    record = store.annotated_match(match_id)
    keyframes = store.read_keyframes(match_id, n_frames=record.n_frames)
    labels = interpolate_keyframes(keyframes, match_id=match_id, n_frames=record.n_frames)
    geometry = MatchGeometry(n_frames=record.n_frames, width=record.width, height=record.height)
    outcomes = validate_labels(labels, geometry, config.to_domain())
    results = check_results_table(outcomes, pd.Timestamp.now(tz="UTC"))
    matches_row = matches_frame([record])  # the video address redacted; every table is built before any is written

    tables = catalog.get_catalog()
    tables.write("matches", matches_row, match_id)
    tables.write("raw_labels", labels, match_id)
    tables.write("label_check_results", results, match_id)

    summary = summarize_labels(labels, record.n_frames)
    context.log.info(f"match {match_id}: {summary['rows']} label rows from {len(keyframes)} keyframes")
    yield dg.MaterializeResult(
        asset_key="matches",
        metadata={
            "annotated_at": record.annotated_at.isoformat(),
            "group": f"{record.pitch} / {record.home_team} / {record.away_team}",
            "dagster/row_count": 1,
        },
    )
    yield dg.MaterializeResult(
        asset_key="raw_labels",
        metadata={**summary, "video": redact_url(record.video), "dagster/row_count": summary["rows"]},
    )
    failed = results.loc[~results["passed"].astype(bool), "check"]
    yield dg.MaterializeResult(
        asset_key="label_check_results",
        metadata={
            "expectations": len(results),
            "failed_expectations": len(failed),
            "failed_checks": ", ".join(sorted(set(failed))) or "none",
            "dagster/row_count": len(results),
        },
    )
