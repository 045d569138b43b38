"""Reading and writing manifest tables as Parquet files, atomically.

A partitioned table holds one file per match, ``<root>/<table>/match_id=<id>/data.parquet``: re-materialising a match
replaces exactly its file, and readers never see a half-written one (write to a temporary file, then rename).
Each partitioned table also holds a zero-row file under ``match_id=__schema__`` (not a valid match id) so its
catalog view always has a file to bind to, even before the first match arrives.

:class:`Manifests` keeps the files in a local folder; :class:`cvops.catalog.s3_manifests.S3Manifests`, with the
same methods, in object storage (``CVOPS_STATE_URL``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cvops.catalog.tables import TABLES, TableSpec
from cvops.errors import CvopsError
from cvops.io import file_lock, write_parquet_atomic
from cvops.labels.store import validate_match_id

SCHEMA_PARTITION = "__schema__"
DATA_FILE = "data.parquet"


class ManifestTables:
    """What every place that holds the manifest tables shares: the table specs and the checks of a write."""

    def __init__(self, tables: dict[str, TableSpec] | None = None) -> None:
        self.tables = TABLES if tables is None else tables

    def spec(self, table: str) -> TableSpec:
        try:
            return self.tables[table]
        except KeyError:
            raise CvopsError(f"unknown manifest table {table!r}; known: {', '.join(sorted(self.tables))}") from None

    def to_arrow(self, table: str, frame: pd.DataFrame) -> pa.Table:
        """Convert to the table's exact schema, raising a message that names the table and the column."""
        spec = self.spec(table)
        columns = list(spec.schema.names)
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise CvopsError(f"manifest {table!r}: missing column(s) {', '.join(missing)}")
        try:
            return pa.Table.from_pandas(frame[columns], schema=spec.schema, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise CvopsError(f"manifest {table!r}: {exc}") from exc

    def check_partition(self, table: str, frame: pd.DataFrame, match_id: str | None) -> None:
        """A partition holds only its own match's rows."""
        if self.spec(table).partitioned_by_match and "match_id" in frame.columns:
            others = set(frame["match_id"].astype(str)) - {match_id}
            if others:
                raise CvopsError(f"manifest {table!r}: rows of match(es) {sorted(others)} in partition {match_id!r}")

    @staticmethod
    def concat_parts(spec: TableSpec, parts: list[pd.DataFrame], columns: list[str] | None) -> pd.DataFrame:
        """The partitions read, as one frame with ``match_id`` first (empty, with the columns, if none)."""
        if parts:
            return pd.concat(parts, ignore_index=True)
        schema = spec.schema if columns is None else pa.schema([spec.schema.field(c) for c in columns])
        empty = schema.empty_table().to_pandas()
        empty.insert(0, "match_id", pd.Series(dtype="string"))
        return empty


class Manifests(ManifestTables):
    """The manifest tables under one root folder (``$CVOPS_HOME/manifests``)."""

    def __init__(self, root: str | Path, tables: dict[str, TableSpec] | None = None) -> None:
        super().__init__(tables)
        self.root = Path(root)

    def table_dir(self, table: str) -> Path:
        return self.root / self.spec(table).name

    def file(self, table: str, match_id: str | None = None) -> Path:
        spec = self.spec(table)
        if spec.partitioned_by_match:
            if match_id is None:
                raise CvopsError(f"table {table!r} is partitioned by match: give a match_id")
            return self.root / table / f"match_id={validate_match_id(match_id)}" / DATA_FILE
        if match_id is not None:
            raise CvopsError(f"table {table!r} is not partitioned by match")
        return self.root / table / DATA_FILE

    def glob(self, table: str) -> str:
        """The file pattern a reader (DuckDB) uses for the whole table."""
        spec = self.spec(table)
        return str(self.root / table / ("*/" if spec.partitioned_by_match else "") / DATA_FILE).replace("//", "/")

    def ensure(self) -> None:
        """Give every table a file so readers can bind to it before any data exists.

        Partitioned tables get a zero-row placeholder partition (rewritten when the schema changes); an
        unpartitioned table gets an empty data file if it has none, and the columns a newer cvops added to its
        schema, as nulls, if its file was written before them (its rows are kept as they are).
        """
        for spec in self.tables.values():
            if spec.partitioned_by_match:
                placeholder = self.root / spec.name / f"match_id={SCHEMA_PARTITION}" / DATA_FILE
                if not placeholder.exists() or pq.read_schema(placeholder) != spec.schema:
                    write_parquet_atomic(placeholder, spec.schema.empty_table())
                continue
            path = self.root / spec.name / DATA_FILE
            if not path.exists():
                write_parquet_atomic(path, spec.schema.empty_table())
            elif set(spec.schema.names) - set(pq.read_schema(path).names):
                self._add_new_columns(path, spec)

    @staticmethod
    def _add_new_columns(path: Path, spec: TableSpec) -> None:
        """Rewrite a table written by an older cvops with the columns added since, as nulls: the catalog's view
        selects every column of today's schema, and DuckDB cannot bind one that no file has."""
        with file_lock(path.with_name(".lock")):
            table = pq.read_table(path)
            for field in spec.schema:
                if field.name not in table.column_names:
                    table = table.append_column(field, pa.nulls(len(table), field.type))
            write_parquet_atomic(path, table)

    def write(self, table: str, frame: pd.DataFrame, match_id: str | None = None) -> Path:
        """Replace a match's partition (or a whole unpartitioned table) with ``frame``, atomically."""
        self.check_partition(table, frame, match_id)
        path = self.file(table, match_id)
        write_parquet_atomic(path, self.to_arrow(table, frame))
        return path

    def upsert(self, table: str, frame: pd.DataFrame, key: list[str], match_id: str | None = None) -> Path:
        """Replace the rows of ``frame``'s ``key`` values in a partition (or table), keep the others.

        For tables that several runs write at once (benchmark results: one model and one match per run), the
        read-modify-write happens under a file lock, so no run loses another's rows.
        """
        path = self.file(table, match_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(path.with_name(".lock")):
            if path.exists():
                current = pq.read_table(path, schema=self.spec(table).schema).to_pandas()
                replaced = current.set_index(key).index.isin(frame.set_index(key).index)
                frame = pd.concat([current[~replaced], frame], ignore_index=True) if (~replaced).any() else frame
            return self.write(table, frame, match_id)

    def delete(self, table: str, match_id: str) -> None:
        """Remove one match's partition (used when a match leaves the platform)."""
        shutil.rmtree(self.file(table, match_id).parent, ignore_errors=True)

    def read(self, table: str, match_id: str | None = None, columns: list[str] | None = None) -> pd.DataFrame:
        """One match's rows, or the whole table (partitioned tables get a ``match_id`` column); ``columns``: only
        those (a table may hold millions of rows)."""
        spec = self.spec(table)
        if match_id is not None or not spec.partitioned_by_match:
            path = self.file(table, match_id)
            if not path.exists():
                raise CvopsError(f"manifest {table!r} has no data" + (f" for match {match_id!r}" if match_id else ""))
            return pq.read_table(path, schema=spec.schema, columns=columns).to_pandas()
        parts = []
        for path in sorted((self.root / table).glob(f"match_id=*/{DATA_FILE}")):
            key = path.parent.name.removeprefix("match_id=")
            if key == SCHEMA_PARTITION:
                continue
            part = pq.read_table(path, schema=spec.schema, columns=columns).to_pandas()
            part.insert(0, "match_id", key)
            parts.append(part)
        return self.concat_parts(spec, parts, columns)

    def match_ids(self, table: str) -> list[str]:
        """The matches that have a partition in ``table``."""
        ids = (p.parent.name.removeprefix("match_id=") for p in (self.root / table).glob(f"match_id=*/{DATA_FILE}"))
        return sorted(i for i in ids if i != SCHEMA_PARTITION)
