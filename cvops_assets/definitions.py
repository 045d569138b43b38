"""The one ``Definitions`` of cvops (loaded by ``workspace.yaml`` and ``dagster dev -m cvops_assets.definitions``).

Resources that follow the environment name their variable with ``dg.EnvVar`` when it is set, so the UI shows
where a value comes from (and never a secret's value); unset, each resource falls back to ``CVOPS_HOME`` and the
defaults documented on its fields.
"""

import os

import dagster as dg

from cvops_assets.benchmark import benchmark_results, benchmark_samples, rank_and_promote
from cvops_assets.catalog_tables import label_store
from cvops_assets.cleaning import clean_labels, match_predictions
from cvops_assets.datasets import dataset_export_preview, export_dataset_version
from cvops_assets.drift import measure_drift
from cvops_assets.executor_selection import executor_from_env, gpu_step_names
from cvops_assets.jobs import benchmark_job, match_pipeline_job, retrain_job, review_pipeline_job
from cvops_assets.labels import read_match_labels
from cvops_assets.models import models_table, trained_model
from cvops_assets.partitions import matches_partitions
from cvops_assets.review import review_queue
from cvops_assets.samples import frame_samples
from cvops_assets.selection import match_selection, select_match_frames
from cvops_assets.sensors import (
    annotated_matches_sensor,
    automation_sensor,
    benchmark_sensor,
    monthly_retrain_schedule,
    retrain_sensor,
)
from cvops_checks.drift_checks import match_drift_check
from cvops_checks.label_checks import label_checks
from cvops_resources import (
    CatalogResource,
    DatasetRepoResource,
    LabelStoreResource,
    ModelRegistryResource,
    RetrainPolicyResource,
    S3Resource,
    VideoResource,
)


def _env(name: str) -> dg.EnvVar | None:
    """``dg.EnvVar(name)`` when the variable is set (resolved at run time), else None: the resource's default."""
    return dg.EnvVar(name) if os.environ.get(name) else None


s3 = S3Resource(endpoint_url=_env("AWS_ENDPOINT_URL"), region_name=_env("AWS_REGION"), profile_name=_env("AWS_PROFILE"))

ASSETS = [
    label_store,
    read_match_labels,
    match_predictions,
    clean_labels,
    review_queue,
    match_selection,
    select_match_frames,
    measure_drift,
    frame_samples,
    dataset_export_preview,
    export_dataset_version,
    trained_model,
    models_table,
    benchmark_samples,
    benchmark_results,
    rank_and_promote,
]

defs = dg.Definitions(
    assets=ASSETS,
    asset_checks=[label_checks(matches_partitions), match_drift_check(matches_partitions)],
    jobs=[match_pipeline_job, review_pipeline_job, retrain_job, benchmark_job],
    sensors=[annotated_matches_sensor, automation_sensor, benchmark_sensor, retrain_sensor],
    schedules=[monthly_retrain_schedule],
    resources={
        "label_store": LabelStoreResource(root=_env("CVOPS_LABEL_STORE")),
        "catalog": CatalogResource(home=_env("CVOPS_HOME"), state_url=_env("CVOPS_STATE_URL")),
        "model_registry": ModelRegistryResource(root=_env("CVOPS_MODEL_REGISTRY"), home=_env("CVOPS_HOME"), s3=s3),
        "video": VideoResource(s3=s3),
        "dataset_repo": DatasetRepoResource(
            remote=_env("CVOPS_DVC_REMOTE"), git_remote=_env("CVOPS_DATASET_GIT_REMOTE"), s3=s3
        ),
        "retrain_policy": RetrainPolicyResource(),
    },
    # gpu_executor, unless CVOPS_EXECUTOR=k8s (docs/deploy.md).
    executor=executor_from_env(gpu_step_names(ASSETS)),
)
