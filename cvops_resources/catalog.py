"""The manifests and their DuckDB catalog, as a Dagster resource."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd

from cvops.catalog import Catalog, Manifests
from cvops.settings import CvopsPaths


class CatalogResource(dg.ConfigurableResource):
    """Manifest tables under ``<home>/manifests`` and the catalog ``<home>/catalog.duckdb``."""

    home: str | None = None
    """The platform folder; unset means ``CVOPS_HOME``, read when the resource is used (not at import)."""

    @property
    def root(self) -> Path:
        return Path(self.home) if self.home else CvopsPaths.from_env().home

    @property
    def manifests(self) -> Manifests:
        return Manifests(self.root / "manifests")

    @property
    def catalog(self) -> Catalog:
        return Catalog(self.root / "catalog.duckdb", self.manifests)

    def write(self, table: str, frame: pd.DataFrame, match_id: str | None = None) -> Path:
        """Replace a table's match partition (or the whole table) and make sure the catalog can see it."""
        path = self.manifests.write(table, frame, match_id)
        self.catalog.refresh()
        return path

    def upsert(self, table: str, frame: pd.DataFrame, key: list[str], match_id: str | None = None) -> Path:
        """Replace the rows of ``frame``'s ``key`` values, keep the others (see ``Manifests.upsert``)."""
        path = self.manifests.upsert(table, frame, key, match_id)
        self.catalog.refresh()
        return path

    def read(self, table: str, match_id: str | None = None) -> pd.DataFrame:
        return self.manifests.read(table, match_id)

    def query(self, sql: str, parameters: list | None = None) -> pd.DataFrame:
        return self.catalog.query(sql, parameters)
