"""Jobs: the per-match chain (run once per newly annotated match), the review of a match awaiting annotation, a
retrain, one benchmark pair."""

import dagster as dg

match_pipeline_job = dg.define_asset_job(
    name="match_pipeline",
    selection=dg.AssetSelection.assets(
        "raw_labels", "match_predictions", "cleaned_tracks", "review_queue"
    ).required_multi_asset_neighbors(),
    description="What is computed per match as soon as it is annotated: its labels and their checks, the "
    "predictions that judge them, the cleaning and its review queue (selection, frames and samples follow by "
    "automation).",
)

review_pipeline_job = dg.define_asset_job(
    name="review_pipeline",
    selection=dg.AssetSelection.assets("match_predictions", "review_queue").required_multi_asset_neighbors(),
    description="What is computed for a match nobody has annotated yet: the production model's predictions, "
    "tracked into pseudo-labels, and the review queue of what it is least sure of (docs/review.md).",
)

retrain_job = dg.define_asset_job(
    name="retrain",
    selection=dg.AssetSelection.assets(
        "dataset_export_preview", "dataset_version", "trained_model"
    ).required_multi_asset_neighbors(),
    description="A new dataset version, then a model trained on it (the benchmark and promotion follow).",
)

benchmark_job = dg.define_asset_job(
    name="benchmark",
    selection=dg.AssetSelection.assets("benchmark_results"),
    description="One (model, benchmark sample) pair; requested by benchmark_sensor for pairs not computed yet.",
)
