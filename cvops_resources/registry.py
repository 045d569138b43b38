"""The model registry, as a Dagster resource."""

from __future__ import annotations

import dagster as dg

from cvops.catalog import Manifests
from cvops.registry import ModelRegistry, open_registry
from cvops.settings import CvopsPaths


class ModelRegistryResource(dg.ConfigurableResource):
    """Model versions, their cards and stages (see docs/registry.md), in a local folder or ``s3://bucket/prefix``.

    Every change also rewrites the catalog table ``models`` under ``<home>/manifests``.
    """

    root: str | None = None
    """A folder or ``s3://bucket/prefix``; unset means ``$CVOPS_MODEL_REGISTRY``, else ``<home>/models``
    (read when the resource is used, not at import)."""
    home: str | None = None
    """The platform folder (catalog manifests, download cache of an S3 registry); unset means ``CVOPS_HOME``."""
    s3_endpoint_url: str | None = None
    """For S3-compatible stores (MinIO); unset means boto3's default (``AWS_ENDPOINT_URL`` if set)."""
    write_catalog: bool = True
    """Rewrite the catalog table ``models`` after every change."""

    def registry(self, actor: str | None = None) -> ModelRegistry:
        """The registry; ``actor`` is recorded in the audit log (e.g. ``dagster run <run_id>``)."""
        paths = CvopsPaths.under(self.home) if self.home else CvopsPaths.from_env()
        return open_registry(
            self.root or paths.model_registry,
            Manifests(paths.manifests) if self.write_catalog else None,
            actor=actor,
            cache_dir=paths.models_cache,
            s3_endpoint_url=self.s3_endpoint_url,
        )
