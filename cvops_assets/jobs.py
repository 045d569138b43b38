"""Jobs: the per-match chain, run once per newly annotated match."""

import dagster as dg

from cvops_assets.cleaning import cleaned_tracks, match_predictions
from cvops_assets.labels import raw_labels

MATCH_ASSETS = [raw_labels, match_predictions, cleaned_tracks]

match_pipeline_job = dg.define_asset_job(
    name="match_pipeline",
    selection=dg.AssetSelection.assets(*MATCH_ASSETS),
    description="Everything that is computed per match (labels and their checks, cleaning, selected frames).",
)
