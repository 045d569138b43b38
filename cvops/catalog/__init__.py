"""Manifests (hive-partitioned Parquet under ``$CVOPS_HOME/manifests``) and the DuckDB catalog over them."""

from cvops.catalog.duckdb_catalog import Catalog, CatalogQueryError
from cvops.catalog.manifests import Manifests
from cvops.catalog.tables import TABLES, TableSpec

__all__ = ["TABLES", "Catalog", "CatalogQueryError", "Manifests", "TableSpec"]
