"""The model registry, as a Dagster resource."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from cvops.catalog import Catalog
from cvops.registry import ModelRegistry, open_registry
from cvops.settings import CvopsPaths
from cvops_resources.s3 import S3Resource


class ModelRegistryResource(dg.ConfigurableResource):
    """Model versions, their cards and stages (docs/registry.md), in a local folder or ``s3://bucket/prefix``."""

    root: str | None = Field(
        default=None,
        description="A folder or s3://bucket/prefix; unset: CVOPS_MODEL_REGISTRY, else <home>/models.",
    )
    home: str | None = Field(
        default=None, description="The platform folder (catalog, download cache of an S3 registry); unset: CVOPS_HOME."
    )
    s3: S3Resource = Field(default_factory=S3Resource, description="S3 access, for a registry on S3.")

    def get_registry(self, actor: str | None = None, *, with_catalog: bool = False) -> ModelRegistry:
        """The registry; ``actor`` goes into the audit log (``dagster run <run_id>``). ``with_catalog``: rewrite the
        catalog table ``models`` after every change (in Dagster, the ``models`` asset does that instead)."""
        paths = CvopsPaths.under(self.home) if self.home else CvopsPaths.from_env()
        return open_registry(
            self.root or paths.model_registry,
            Catalog.at(paths, self.s3.get_settings()).manifests if with_catalog else None,
            actor=actor,
            cache_dir=paths.models_cache,
            s3=self.s3.get_settings(),
        )
