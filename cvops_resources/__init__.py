"""Dagster resources: typed, configurable handles on the systems cvops talks to."""

from cvops_resources.catalog import CatalogResource
from cvops_resources.label_store import LabelStoreResource
from cvops_resources.registry import ModelRegistryResource

__all__ = ["CatalogResource", "LabelStoreResource", "ModelRegistryResource"]
