"""The platform's tables (Parquet manifests) and their DuckDB catalog, as a Dagster resource."""

from __future__ import annotations

import dataclasses

import dagster as dg
from pydantic import Field

from cvops.catalog import Catalog
from cvops.settings import CvopsPaths


class CatalogResource(dg.ConfigurableResource):
    """Manifest tables under ``<home>/manifests`` and the catalog ``<home>/catalog.duckdb``."""

    home: str | None = Field(
        default=None, description="The platform folder; unset: CVOPS_HOME (read when used, not at import)."
    )
    state_url: str | None = Field(
        default=None,
        description="s3://bucket/prefix holding the manifests that steps on every node share; unset: "
        "CVOPS_STATE_URL, else the platform folder.",
    )

    def paths(self) -> CvopsPaths:
        paths = CvopsPaths.under(self.home) if self.home else CvopsPaths.from_env()
        return dataclasses.replace(paths, state_url=self.state_url or CvopsPaths.from_env().state_url)

    def get_catalog(self) -> Catalog:
        return Catalog.at(self.paths())
