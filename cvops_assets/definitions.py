"""The one ``Definitions`` of cvops (loaded by ``workspace.yaml`` and ``dagster dev -m cvops_assets.definitions``)."""

import dagster as dg

from cvops_assets.cleaning import cleaned_tracks, match_predictions
from cvops_assets.executor import gpu_executor
from cvops_assets.jobs import match_pipeline_job
from cvops_assets.labels import raw_labels
from cvops_assets.selection import match_selection, selected_frames
from cvops_assets.sensors import annotated_matches_sensor, automation_sensor
from cvops_checks.drift_checks import match_drift_check
from cvops_checks.label_checks import raw_labels_checks
from cvops_resources import CatalogResource, LabelStoreResource, ModelRegistryResource

defs = dg.Definitions(
    assets=[raw_labels, match_predictions, cleaned_tracks, match_selection, selected_frames],
    asset_checks=[raw_labels_checks, match_drift_check],
    jobs=[match_pipeline_job],
    sensors=[annotated_matches_sensor, automation_sensor],
    resources={
        "label_store": LabelStoreResource(),
        "catalog": CatalogResource(),
        "model_registry": ModelRegistryResource(),
    },
    executor=gpu_executor,
)
