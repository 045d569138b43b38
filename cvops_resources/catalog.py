"""The platform's tables (Parquet manifests) and their DuckDB catalog, as a Dagster resource."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from cvops.catalog import Catalog
from cvops.settings import CvopsPaths


class CatalogResource(dg.ConfigurableResource):
    """Manifest tables under ``<home>/manifests`` and the catalog ``<home>/catalog.duckdb``."""

    home: str | None = Field(
        default=None, description="The platform folder; unset: CVOPS_HOME (read when used, not at import)."
    )

    def paths(self) -> CvopsPaths:
        return CvopsPaths.under(self.home) if self.home else CvopsPaths.from_env()

    def get_catalog(self) -> Catalog:
        return Catalog.at(self.paths())
