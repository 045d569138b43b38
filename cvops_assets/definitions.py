"""The one ``Definitions`` of cvops (loaded by ``workspace.yaml`` and ``dagster dev -m cvops_assets.definitions``)."""

import dagster as dg

from cvops_assets.benchmark import benchmark_leaderboard, benchmark_results, benchmark_samples
from cvops_assets.cleaning import cleaned_tracks, match_predictions
from cvops_assets.datasets import dataset_export_preview, dataset_version
from cvops_assets.executor import gpu_executor
from cvops_assets.jobs import benchmark_job, match_pipeline_job, retrain_job
from cvops_assets.labels import raw_labels
from cvops_assets.models import trained_model
from cvops_assets.samples import frame_samples
from cvops_assets.selection import match_selection, selected_frames
from cvops_assets.sensors import (
    annotated_matches_sensor,
    automation_sensor,
    benchmark_sensor,
    monthly_retrain_schedule,
    retrain_sensor,
)
from cvops_checks.drift_checks import match_drift_check
from cvops_checks.label_checks import raw_labels_checks
from cvops_resources import (
    CatalogResource,
    DatasetRepoResource,
    LabelStoreResource,
    ModelRegistryResource,
    RetrainPolicyResource,
    VideoResource,
)

defs = dg.Definitions(
    assets=[
        raw_labels,
        match_predictions,
        cleaned_tracks,
        match_selection,
        selected_frames,
        frame_samples,
        dataset_export_preview,
        dataset_version,
        trained_model,
        benchmark_samples,
        benchmark_results,
        benchmark_leaderboard,
    ],
    asset_checks=[raw_labels_checks, match_drift_check],
    jobs=[match_pipeline_job, retrain_job, benchmark_job],
    sensors=[annotated_matches_sensor, automation_sensor, benchmark_sensor, retrain_sensor],
    schedules=[monthly_retrain_schedule],
    resources={
        "label_store": LabelStoreResource(),
        "catalog": CatalogResource(),
        "model_registry": ModelRegistryResource(),
        "video": VideoResource(),
        "dataset_repo": DatasetRepoResource(),
        "retrain_policy": RetrainPolicyResource(),
    },
    executor=gpu_executor,
)
