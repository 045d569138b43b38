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

retrain_job = dg.define_asset_job(
    name="retrain",
    selection=dg.AssetSelection.assets("dataset_export_preview", "dataset_version", "trained_model"),
    description="A new dataset version, then a model trained on it (the benchmark and promotion follow).",
)

benchmark_job = dg.define_asset_job(
    name="benchmark",
    selection=dg.AssetSelection.assets("benchmark_results"),
    description="One (model, benchmark sample) pair; requested by benchmark_sensor for pairs not computed yet.",
)
