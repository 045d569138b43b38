"""The catalog: the manifest tables, read and written as Parquet, and one DuckDB view per table to query them.

Views only name file patterns, so they never need updating when matches are added: the database file is written
once (and again only when the table definitions change), never by the runs themselves. That matters because DuckDB
lets one process write a database file at a time, and Dagster runs steps in parallel processes while a person may
have the catalog open. A file lock serialises the rare rewrites.

With the manifests in object storage (``CVOPS_STATE_URL``, :mod:`cvops.catalog.s3_manifests`) there is no view
file: each query opens an in-memory DuckDB whose views scan the tables as pyarrow datasets over S3.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pandas as pd

from cvops.catalog.manifests import Manifests, ManifestTables
from cvops.catalog.s3_manifests import S3Manifests
from cvops.catalog.tables import TableSpec
from cvops.errors import CvopsError
from cvops.io import file_lock
from cvops.s3 import S3Settings
from cvops.settings import CvopsPaths

_VERSION_TABLE = "cvops_catalog_version"


class CatalogQueryError(CvopsError):
    """A query the catalog could not run (DuckDB's message: a typo in a table or column, bad SQL)."""


class Catalog:
    """The platform's tables: read and write them (Parquet manifests), or query them with SQL (``cvops sql``, a
    notebook, the DuckDB CLI) through views in the catalog file."""

    def __init__(self, path: str | Path, manifests: ManifestTables) -> None:
        self.path = Path(path)
        self.manifests = manifests
        self._ensured = False

    @classmethod
    def at(cls, paths: CvopsPaths, s3: S3Settings | None = None) -> Catalog:
        """The catalog of the platform whose state is at ``paths`` (``Catalog.at(CvopsPaths.from_env())``): the
        manifests under ``CVOPS_STATE_URL`` when it is set (``s3``: where the S3 API is), else in ``CVOPS_HOME``."""
        if paths.state_url:
            return cls(paths.catalog, S3Manifests(paths.state_url, s3))
        return cls(paths.catalog, Manifests(paths.manifests))

    @property
    def in_object_storage(self) -> bool:
        return isinstance(self.manifests, S3Manifests)

    def read(self, table: str, match_id: str | None = None, columns: list[str] | None = None) -> pd.DataFrame:
        """One match's rows of ``table``, or the whole table (see :meth:`Manifests.read`)."""
        return self.manifests.read(table, match_id, columns)

    def write(self, table: str, frame: pd.DataFrame, match_id: str | None = None) -> Path:
        """Replace a table's match partition (or the whole table), and make sure the views can see it."""
        path = self.manifests.write(table, frame, match_id)
        self.refresh()
        return path

    def upsert(self, table: str, frame: pd.DataFrame, key: list[str], match_id: str | None = None) -> Path:
        """Replace the rows of ``frame``'s ``key`` values, keep the others (see :meth:`Manifests.upsert`)."""
        path = self.manifests.upsert(table, frame, key, match_id)
        self.refresh()
        return path

    def _fingerprint(self) -> str:
        text = json.dumps([self._view_sql(spec) for spec in self.manifests.tables.values()])
        return hashlib.sha256(text.encode()).hexdigest()

    def _view_sql(self, spec: TableSpec) -> str:
        pattern = self.manifests.glob(spec.name).replace("'", "''")
        if spec.partitioned_by_match:
            source = (
                f"read_parquet('{pattern}', hive_partitioning = true, hive_types = {{'match_id': VARCHAR}}, "
                "union_by_name = true)"
            )
        else:
            source = f"read_parquet('{pattern}', union_by_name = true)"
        columns = ", ".join(f'"{c}"' for c in spec.columns)
        return f'CREATE OR REPLACE VIEW "{spec.name}" AS SELECT {columns} FROM {source}'

    def refresh(self) -> bool:
        """Create the manifests' placeholder files and (re)create the views if needed; True if it wrote."""
        if isinstance(self.manifests, S3Manifests):
            if not self._ensured:  # once per catalog object: a few conditional PUTs, not one round per write
                self.manifests.ensure()
                self._ensured = True
            return False
        self.manifests.ensure()
        fingerprint = self._fingerprint()
        if self._current_fingerprint() == fingerprint:
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(self.path.with_name(self.path.name + ".lock")):
            if self._current_fingerprint() == fingerprint:
                return False
            with duckdb.connect(str(self.path)) as con:
                for spec in self.manifests.tables.values():
                    con.execute(self._view_sql(spec))
                con.execute(f"CREATE OR REPLACE TABLE {_VERSION_TABLE} AS SELECT ? AS fingerprint", [fingerprint])
        return True

    def _current_fingerprint(self) -> str | None:
        if not self.path.exists():
            return None
        try:
            with duckdb.connect(str(self.path), read_only=True) as con:
                row = con.execute(f"SELECT fingerprint FROM {_VERSION_TABLE}").fetchone()
        except duckdb.Error:
            return None
        return row[0] if row else None

    def query(self, sql: str, parameters: list | None = None) -> pd.DataFrame:
        """Run a read-only query against the catalog."""
        self.refresh()
        if isinstance(self.manifests, S3Manifests):
            return self._query_object_storage(self.manifests, sql, parameters)
        with duckdb.connect(str(self.path), read_only=True) as con:
            try:
                return con.execute(sql, parameters or []).df()
            except duckdb.Error as exc:
                raise CatalogQueryError(str(exc).strip()) from None

    @staticmethod
    def _query_object_storage(manifests: S3Manifests, sql: str, parameters: list | None) -> pd.DataFrame:
        with duckdb.connect() as con:
            for spec in manifests.tables.values():
                con.register(f"__{spec.name}", manifests.arrow_dataset(spec.name))
                columns = ", ".join(f'"{c}"' for c in spec.columns)
                con.execute(f'CREATE VIEW "{spec.name}" AS SELECT {columns} FROM "__{spec.name}"')
            try:
                return con.execute(sql, parameters or []).df()
            except duckdb.Error as exc:
                raise CatalogQueryError(str(exc).strip()) from None
