"""Raw labels: the product's keyframes, interpolated per match exactly as the product shows them."""

import dagster as dg
import pandas as pd

from cvops.labels import interpolate_keyframes
from cvops.labels.summary import summarize_labels
from cvops_assets.partitions import matches_partitions
from cvops_resources import CatalogResource, LabelStoreResource


@dg.asset(
    partitions_def=matches_partitions,
    group_name="labels",
    kinds={"pandas", "parquet"},
    description="Keyframe corrections of one match, linearly interpolated as the product does (ghosts included; "
    "label frame numbering). Manifests: raw_labels, matches.",
)
def raw_labels(
    context: dg.AssetExecutionContext, label_store: LabelStoreResource, catalog: CatalogResource
) -> dg.MaterializeResult:
    match_id = context.partition_key
    record = label_store.match(match_id)
    keyframes = label_store.keyframes(match_id)
    labels = interpolate_keyframes(keyframes, match_id=match_id)

    matches_row = pd.DataFrame([record.__dict__]).assign(fps=str(record.fps))
    catalog.write("raw_labels", labels, match_id)
    catalog.write("matches", matches_row, match_id)

    summary = summarize_labels(labels, record.n_frames)
    context.log.info(f"match {match_id}: {summary['rows']} label rows from {len(keyframes)} keyframes")
    return dg.MaterializeResult(
        metadata={
            **summary,
            "video": record.video,
            "annotated_at": record.annotated_at.isoformat(),
            "group": f"{record.pitch} / {record.home_team} / {record.away_team}",
            "dagster/row_count": summary["rows"],
        }
    )
