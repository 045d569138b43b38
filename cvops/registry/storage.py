"""Where a registry keeps its files: the storage primitives the registry's transactions are built from.

A storage holds, under one root, ``index.json`` (the state, replaced atomically), the audit log, and one folder
per version. Two kinds exist: a local folder (this module), serialised by a file lock, and S3
(:mod:`cvops.registry.s3`), serialised optimistically by conditional writes of numbered audit entries.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

import filelock

from cvops.io import write_text_atomic
from cvops.registry.state import VERSION_PATTERN, AuditEntry, RegistryError, RegistryState

INDEX_FILE = "index.json"
AUDIT_FILE = "audit.jsonl"
LOCK_FILE = ".registry.lock"
STAGING_DIR = ".staging"
STALE_STAGING_S = 24 * 3600


def sha256_of(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


class RegistryStorage(Protocol):
    """The primitives a :class:`~cvops.registry.registry.ModelRegistry` needs from its storage."""

    uri: str

    def locked(self) -> contextlib.AbstractContextManager[None]:
        """Hold the writers' lock (a no-op where writes are serialised by ``append_audit`` alone)."""
        ...

    def read_index(self) -> RegistryState | None: ...

    def write_index(self, state: RegistryState) -> None: ...

    def read_audit(self, after_seq: int = 0) -> list[AuditEntry]: ...

    def append_audit(self, entry: AuditEntry) -> bool:
        """Append ``entry``; False if another writer already took its sequence number (retry on a fresh state)."""
        ...

    def stage(self, files: dict[str, Path]) -> str:
        """Copy ``files`` (name -> source) somewhere no other writer uses; return a token for ``publish``."""
        ...

    def publish(self, token: str, version: str) -> str:
        """Make staged files the version's folder; return the folder (relative to the root). Idempotent."""
        ...

    def discard(self, token: str) -> None:
        """Remove staged files that were not published."""
        ...

    def taken_folders(self) -> set[str]:
        """Version ids that have a folder, registered or not (a writer may have died before its audit entry)."""
        ...

    def write_text(self, folder: str, name: str, text: str) -> None: ...

    def read_text(self, folder: str, name: str) -> str: ...

    def local_path(self, folder: str, name: str, sha256: str) -> Path:
        """A local file with the content of ``folder/name``, checked against ``sha256``."""
        ...


class LocalStorage:
    """A registry in a local (or mounted network) folder; writers are serialised by ``<root>/.registry.lock``."""

    def __init__(self, root: str | Path, lock_timeout_s: float = 120.0) -> None:
        self.root = Path(root).expanduser().absolute()
        self.uri = str(self.root)
        self.lock_timeout_s = lock_timeout_s

    @property
    def index_path(self) -> Path:
        return self.root / INDEX_FILE

    @property
    def audit_path(self) -> Path:
        return self.root / AUDIT_FILE

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(str(self.root / LOCK_FILE))
        try:
            lock.acquire(timeout=self.lock_timeout_s)
        except filelock.Timeout:
            raise RegistryError(
                f"another process held the registry lock {self.root / LOCK_FILE} for more than "
                f"{self.lock_timeout_s:.0f} s"
            ) from None
        try:
            yield
        finally:
            lock.release()

    def read_index(self) -> RegistryState | None:
        try:
            text = self.index_path.read_text()
        except FileNotFoundError:
            return None
        try:
            return RegistryState.from_dict(json.loads(text))
        except (ValueError, KeyError, TypeError) as exc:
            raise RegistryError(f"{self.index_path}: unreadable registry index ({exc})") from None

    def write_index(self, state: RegistryState) -> None:
        write_text_atomic(self.index_path, json.dumps(state.to_dict(), indent=1) + "\n")

    def read_audit(self, after_seq: int = 0) -> list[AuditEntry]:
        """Entries after ``after_seq``; a last line cut short by a crash (no newline) is not an entry yet."""
        try:
            text = self.audit_path.read_text()
        except FileNotFoundError:
            return []
        entries = []
        lines = text.split("\n")
        for number, line in enumerate(lines[:-1], start=1):
            if not line.strip():
                continue
            try:
                entry = AuditEntry.from_dict(json.loads(line))
            except (ValueError, KeyError, TypeError) as exc:
                raise RegistryError(f"{self.audit_path}, line {number}: unreadable audit entry ({exc})") from None
            if entry.seq > after_seq:
                entries.append(entry)
        return entries

    def append_audit(self, entry: AuditEntry) -> bool:
        """Append one JSON line and fsync it; the caller holds the lock, so the sequence number is free."""
        line = (json.dumps(entry.to_dict(), sort_keys=True) + "\n").encode()
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.audit_path, "ab+") as handle:
            _drop_partial_last_line(handle)
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        return True

    def stage(self, files: dict[str, Path]) -> str:
        self._sweep_staging()
        token = uuid.uuid4().hex
        folder = self.root / STAGING_DIR / token
        folder.mkdir(parents=True)
        try:
            for name, source in files.items():
                shutil.copyfile(source, folder / name)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return token

    def _sweep_staging(self) -> None:
        """Remove staged files of registrations that died (a day old: no copy takes that long)."""
        staging = self.root / STAGING_DIR
        if not staging.exists():
            return
        cutoff = time.time() - STALE_STAGING_S
        for folder in staging.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)

    def publish(self, token: str, version: str) -> str:
        staged = self.root / STAGING_DIR / token
        target = self.root / version
        if staged.exists():
            if target.exists():
                raise RegistryError(f"{target} already exists: refusing to register into another version's folder")
            os.rename(staged, target)
        elif not target.exists():
            raise RegistryError(f"{staged}: the staged files of this registration are gone")
        return version

    def discard(self, token: str) -> None:
        shutil.rmtree(self.root / STAGING_DIR / token, ignore_errors=True)

    def taken_folders(self) -> set[str]:
        if not self.root.exists():
            return set()
        return {p.name for p in self.root.iterdir() if p.is_dir() and VERSION_PATTERN.match(p.name)}

    def write_text(self, folder: str, name: str, text: str) -> None:
        write_text_atomic(self.root / folder / name, text)

    def read_text(self, folder: str, name: str) -> str:
        return (self.root / folder / name).read_text()

    def local_path(self, folder: str, name: str, sha256: str) -> Path:
        path = self.root / folder / name
        if not path.exists():
            raise RegistryError(f"{path} is missing from the registry")
        return path


def _drop_partial_last_line(handle: BinaryIO) -> None:
    """Cut a last line left without its newline by a writer that died mid-append, so the next entry starts on a
    line of its own. Hand-written because no library appends JSON lines with crash recovery."""
    size = handle.seek(0, os.SEEK_END)
    if size == 0:
        return
    handle.seek(size - 1)
    if handle.read(1) == b"\n":
        return
    handle.seek(0)
    data = handle.read()
    handle.truncate(data.rfind(b"\n") + 1)
    handle.seek(0, os.SEEK_END)
