"""The one ``Definitions`` of cvops (loaded by ``workspace.yaml`` and ``dagster dev -m cvops_assets.definitions``)."""

import dagster as dg

from cvops_assets.jobs import match_pipeline_job
from cvops_assets.labels import raw_labels
from cvops_assets.sensors import annotated_matches_sensor
from cvops_checks.label_checks import raw_labels_checks
from cvops_resources import CatalogResource, LabelStoreResource

defs = dg.Definitions(
    assets=[raw_labels],
    asset_checks=[raw_labels_checks],
    jobs=[match_pipeline_job],
    sensors=[annotated_matches_sensor],
    resources={"label_store": LabelStoreResource(), "catalog": CatalogResource()},
)
