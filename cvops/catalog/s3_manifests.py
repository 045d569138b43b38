"""Manifest tables in object storage (``CVOPS_STATE_URL=s3://bucket/prefix``): one platform seen from every node.

The layout is the local one (:mod:`cvops.catalog.manifests`), under the prefix: ``<table>/match_id=<id>/data.parquet``
for partitioned tables, ``<table>/data.parquet`` otherwise. Nothing is kept on local disk.

- **Atomic**: an S3 PUT replaces an object whole; readers see the old file or the new one, never a part.
- **Keyed**: replacing a match's partition touches only that match's object, so runs of different matches never
  meet. A read-modify-write (:meth:`S3Manifests.upsert`: several benchmark runs adding their rows to one match's
  results) is a conditional write: the PUT carries the ``ETag`` it read (``If-Match``), or ``If-None-Match: *``
  when the object did not exist; a writer that lost the race gets ``412 Precondition Failed``, reads the winner's
  rows and tries again. No lock object, so a crashed writer can never leave one behind. AWS S3, MinIO and moto
  implement conditional writes.

Queries (:class:`cvops.catalog.Catalog`) read the files through pyarrow's S3 filesystem, which DuckDB scans as an
Arrow dataset (projection and filters pushed down). DuckDB's own ``httpfs`` extension is the other way, but it is
downloaded from DuckDB's servers at first use (or from a wheel built for one DuckDB release: the
``duckdb-ext-httpfs`` wheels on the package index are built for 1.4, not the installed 2.0), so it fails on a
machine without that access; pyarrow's S3 support is compiled into its wheel.
"""

from __future__ import annotations

import io
import os
import random
import time
from typing import Any
from urllib.parse import urlparse

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cvops.catalog.manifests import DATA_FILE, SCHEMA_PARTITION, ManifestTables
from cvops.catalog.tables import TableSpec
from cvops.errors import CvopsError, InputError
from cvops.labels.store import validate_match_id
from cvops.s3 import S3Settings

STATE_URL_ENV = "CVOPS_STATE_URL"
MAX_ATTEMPTS = 30  # conditional-write retries of one upsert; each loser waits a little longer (jittered)
_CONFLICT_CODES = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}
_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}


def parse_state_url(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` -> (bucket, prefix); anything else is an error naming ``CVOPS_STATE_URL``."""
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise InputError(f"expected s3://bucket/prefix, got {url!r}", field=STATE_URL_ENV)
    return parsed.netloc, parsed.path.strip("/")


class S3Manifests(ManifestTables):
    """The manifest tables under ``s3://bucket/prefix/manifests`` (see the module docstring)."""

    def __init__(self, url: str, s3: S3Settings | None = None, tables: dict[str, TableSpec] | None = None) -> None:
        super().__init__(tables)
        self.bucket, prefix = parse_state_url(url)
        self.prefix = "/".join(p for p in (prefix, "manifests") if p)
        self.s3 = s3 or S3Settings()
        self._client: Any = None

    @property
    def root(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self.s3.client()
        return self._client

    def key(self, table: str, match_id: str | None = None) -> str:
        spec = self.spec(table)
        if spec.partitioned_by_match:
            if match_id is None:
                raise CvopsError(f"table {table!r} is partitioned by match: give a match_id")
            return f"{self.prefix}/{table}/match_id={validate_match_id(match_id)}/{DATA_FILE}"
        if match_id is not None:
            raise CvopsError(f"table {table!r} is not partitioned by match")
        return f"{self.prefix}/{table}/{DATA_FILE}"

    # -- writing ---------------------------------------------------------------------------------------

    def write(self, table: str, frame: pd.DataFrame, match_id: str | None = None) -> str:
        """Replace a match's partition (or a whole unpartitioned table) with ``frame``: one PUT."""
        self.check_partition(table, frame, match_id)
        key = self.key(table, match_id)
        self.client.put_object(Bucket=self.bucket, Key=key, Body=_parquet_bytes(self.to_arrow(table, frame)))
        return f"s3://{self.bucket}/{key}"

    def upsert(self, table: str, frame: pd.DataFrame, key: list[str], match_id: str | None = None) -> str:
        """Replace the rows of ``frame``'s ``key`` values, keep the others; a conditional write, retried when
        another writer changed the object in between (never a lost row)."""
        from botocore.exceptions import ClientError

        self.check_partition(table, frame, match_id)
        object_key = self.key(table, match_id)
        for attempt in range(MAX_ATTEMPTS):
            current, etag = self._get(object_key)
            merged = frame
            if current is not None:
                rows = pq.read_table(io.BytesIO(current), schema=self.spec(table).schema).to_pandas()
                replaced = rows.set_index(key).index.isin(frame.set_index(key).index)
                merged = pd.concat([rows[~replaced], frame], ignore_index=True) if (~replaced).any() else frame
            condition = {"IfMatch": etag} if etag is not None else {"IfNoneMatch": "*"}
            body = _parquet_bytes(self.to_arrow(table, merged))
            try:
                self.client.put_object(Bucket=self.bucket, Key=object_key, Body=body, **condition)
                return f"s3://{self.bucket}/{object_key}"
            except ClientError as exc:
                if _code(exc) not in _CONFLICT_CODES:
                    raise
            time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
        raise CvopsError(
            f"manifest {table!r}: {MAX_ATTEMPTS} conditional writes of s3://{self.bucket}/{object_key} lost to "
            "other writers; nothing was written"
        )

    def delete(self, table: str, match_id: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.key(table, match_id))

    def ensure(self) -> None:
        """Give every table an object so that a query binds to its schema before any data exists (created only
        when absent: a conditional write, so real rows are never touched)."""
        from botocore.exceptions import ClientError

        for spec in self.tables.values():
            if spec.partitioned_by_match:
                key = f"{self.prefix}/{spec.name}/match_id={SCHEMA_PARTITION}/{DATA_FILE}"
            else:
                key = f"{self.prefix}/{spec.name}/{DATA_FILE}"
            try:
                body = _parquet_bytes(spec.schema.empty_table())
                self.client.put_object(Bucket=self.bucket, Key=key, Body=body, IfNoneMatch="*")
            except ClientError as exc:
                if _code(exc) not in _CONFLICT_CODES:
                    raise

    # -- reading ---------------------------------------------------------------------------------------

    def read(self, table: str, match_id: str | None = None, columns: list[str] | None = None) -> pd.DataFrame:
        spec = self.spec(table)
        if match_id is not None or not spec.partitioned_by_match:
            body, _ = self._get(self.key(table, match_id))
            if body is None:
                raise CvopsError(f"manifest {table!r} has no data" + (f" for match {match_id!r}" if match_id else ""))
            return pq.read_table(io.BytesIO(body), schema=spec.schema, columns=columns).to_pandas()
        parts = []
        for match in self.match_ids(table):
            body, _ = self._get(self.key(table, match))
            if body is None:  # deleted since the listing
                continue
            part = pq.read_table(io.BytesIO(body), schema=spec.schema, columns=columns).to_pandas()
            part.insert(0, "match_id", match)
            parts.append(part)
        return self.concat_parts(spec, parts, columns)

    def match_ids(self, table: str) -> list[str]:
        prefix = f"{self.prefix}/{self.spec(table).name}/match_id="
        ids = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                match, _, name = item["Key"][len(prefix) :].partition("/")
                if name == DATA_FILE and match != SCHEMA_PARTITION:
                    ids.append(match)
        return sorted(ids)

    def arrow_dataset(self, table: str) -> Any:
        """The whole table as a lazy ``pyarrow.dataset`` over S3 (``match_id`` from the object keys), for DuckDB."""
        import pyarrow.dataset as ds

        spec = self.spec(table)
        path = f"{self.bucket}/{self.prefix}/{spec.name}"
        if not spec.partitioned_by_match:
            return ds.dataset(f"{path}/{DATA_FILE}", schema=spec.schema, format="parquet", filesystem=self._arrow_fs())
        partitioning = ds.partitioning(pa.schema([("match_id", pa.string())]), flavor="hive")
        schema = spec.schema.append(pa.field("match_id", pa.string()))
        return ds.dataset(path, schema=schema, format="parquet", partitioning=partitioning, filesystem=self._arrow_fs())

    def _arrow_fs(self) -> Any:
        from pyarrow import fs

        endpoint = self.s3.endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        region = self.s3.region_name or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        options: dict[str, Any] = {"region": region or "us-east-1"}
        if endpoint:
            options["endpoint_override"] = endpoint
        return fs.S3FileSystem(**options)

    def _get(self, key: str) -> tuple[bytes | None, str | None]:
        from botocore.exceptions import ClientError

        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in _MISSING_CODES:
                return None, None
            raise
        return response["Body"].read(), response["ETag"]


def _parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", {}) or {}
    return str(response.get("Error", {}).get("Code", "")) or str(
        response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
    )
