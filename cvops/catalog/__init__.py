"""Manifests (hive-partitioned Parquet under ``$CVOPS_HOME/manifests``) and the DuckDB catalog over them."""

from cvops.catalog.duckdb_catalog import Catalog, CatalogQueryError
from cvops.catalog.manifests import Manifests, ManifestTables
from cvops.catalog.s3_manifests import S3Manifests
from cvops.catalog.tables import TABLES, TableSpec

__all__ = ["TABLES", "Catalog", "CatalogQueryError", "ManifestTables", "Manifests", "S3Manifests", "TableSpec"]
