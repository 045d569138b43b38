"""Dagster resources: typed, configurable handles on the systems cvops talks to."""

from cvops_resources.catalog import CatalogResource
from cvops_resources.datasets import DatasetRepoResource
from cvops_resources.label_store import LabelStoreResource
from cvops_resources.registry import ModelRegistryResource
from cvops_resources.retrain import RetrainPolicyResource
from cvops_resources.s3 import S3Resource
from cvops_resources.video import VideoResource

__all__ = [
    "CatalogResource",
    "DatasetRepoResource",
    "LabelStoreResource",
    "ModelRegistryResource",
    "RetrainPolicyResource",
    "S3Resource",
    "VideoResource",
]
