"""A registry under ``s3://bucket/prefix`` (AWS S3, MinIO, or any S3 API with conditional writes).

S3 has no locks and no appends, so the audit log is one object per entry, ``audit/<seq:08d>.json``, created with
``If-None-Match: *``: of two writers deciding on the same state, exactly one creates the next entry; the other
gets ``412 Precondition Failed`` and decides again on the newer state. Version files are uploaded first to a
fresh ``objects/<uuid>/`` folder, so a writer that loses the race never overwrites the winner's files.
Credentials and endpoint come from the usual AWS variables (``AWS_ENDPOINT_URL`` for MinIO or moto).
"""

from __future__ import annotations

import contextlib
import json
import uuid
from pathlib import Path
from urllib.parse import urlparse

from botocore.exceptions import ClientError

from cvops.io import atomic_path
from cvops.registry.state import AuditEntry, RegistryError, RegistryState
from cvops.registry.storage import INDEX_FILE, sha256_of
from cvops.s3 import S3Settings

_CONFLICT_CODES = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}


class S3Storage:
    """Registry files under one S3 prefix; downloads land in ``cache_dir`` (checked by sha256)."""

    def __init__(self, uri: str, cache_dir: Path, s3: S3Settings | None = None) -> None:
        parsed = urlparse(uri)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise RegistryError(f"{uri!r} is not an s3://bucket/prefix address")
        self.uri = uri.rstrip("/")
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self.cache_dir = Path(cache_dir)
        self.client = (s3 or S3Settings()).client()

    def _key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def _audit_key(self, seq: int) -> str:
        return self._key("audit", f"{seq:08d}.json")

    def locked(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def _get_text(self, key: str) -> str | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                return None
            raise
        return response["Body"].read().decode("utf-8")

    def read_index(self) -> RegistryState | None:
        text = self._get_text(self._key(INDEX_FILE))
        if text is None:
            return None
        try:
            return RegistryState.from_dict(json.loads(text))
        except (ValueError, KeyError, TypeError) as exc:
            raise RegistryError(f"{self.uri}/{INDEX_FILE}: unreadable registry index ({exc})") from None

    def write_index(self, state: RegistryState) -> None:
        """A writer that lost the race may write an older index after a newer one; readers apply the audit
        entries past the index's ``audit_seq``, so the state they see is the same either way."""
        body = json.dumps(state.to_dict(), indent=1).encode()
        self.client.put_object(Bucket=self.bucket, Key=self._key(INDEX_FILE), Body=body)

    def read_audit(self, after_seq: int = 0) -> list[AuditEntry]:
        paginator = self.client.get_paginator("list_objects_v2")
        keys = []
        for page in paginator.paginate(
            Bucket=self.bucket, Prefix=self._key("audit") + "/", StartAfter=self._audit_key(after_seq)
        ):
            keys += [item["Key"] for item in page.get("Contents", [])]
        entries = []
        for key in sorted(keys):
            text = self._get_text(key)
            if text is None:
                continue
            try:
                entries.append(AuditEntry.from_dict(json.loads(text)))
            except (ValueError, KeyError, TypeError) as exc:
                raise RegistryError(f"s3://{self.bucket}/{key}: unreadable audit entry ({exc})") from None
        return entries

    def append_audit(self, entry: AuditEntry) -> bool:
        body = json.dumps(entry.to_dict(), sort_keys=True).encode()
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._audit_key(entry.seq), Body=body, IfNoneMatch="*")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _CONFLICT_CODES:
                return False
            raise
        return True

    def stage(self, files: dict[str, Path]) -> str:
        token = uuid.uuid4().hex
        for name, source in files.items():
            self.client.upload_file(str(source), self.bucket, self._key("objects", token, name))
        return token

    def publish(self, token: str, version: str) -> str:
        return f"objects/{token}"

    def discard(self, token: str) -> None:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key("objects", token) + "/"):
            for item in page.get("Contents", []):
                self.client.delete_object(Bucket=self.bucket, Key=item["Key"])

    def taken_folders(self) -> set[str]:
        return set()

    def write_text(self, folder: str, name: str, text: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(folder, name), Body=text.encode("utf-8"))

    def read_text(self, folder: str, name: str) -> str:
        text = self._get_text(self._key(folder, name))
        if text is None:
            raise RegistryError(f"{self.uri}/{folder}/{name} is missing from the registry")
        return text

    def local_path(self, folder: str, name: str, sha256: str) -> Path:
        """Download once into the cache; a cached file whose checksum does not match is downloaded again."""
        path = self.cache_dir / folder / name
        if path.exists() and sha256_of(path) == sha256:
            return path
        with atomic_path(path) as tmp:
            try:
                self.client.download_file(self.bucket, self._key(folder, name), str(tmp))
            except ClientError as exc:
                raise RegistryError(f"{self.uri}/{folder}/{name}: download failed ({exc})") from None
            if sha256_of(tmp) != sha256:
                raise RegistryError(f"{self.uri}/{folder}/{name}: checksum mismatch, the stored file is damaged")
        return path
