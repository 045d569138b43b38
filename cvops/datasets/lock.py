"""One export at a time per dataset repository.

Two exports writing the same work tree, index and tags would interleave their commits, so they are serialised
by an OS file lock (``filelock``: ``fcntl.flock`` on Linux, released by the kernel when the holder dies, so a
killed export never leaves a stale lock). A second export waits, then says in its result that it waited and for
whom: the holder writes its pid, host and start time to a note beside the lock.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import filelock

from cvops.errors import CvopsError
from cvops.io import write_text_atomic

logger = logging.getLogger(__name__)


class LockTimeoutError(CvopsError):
    """Another export held the lock for longer than the caller was willing to wait."""


@dataclass(frozen=True)
class LockWait:
    """How getting the lock went: whether this export had to wait, how long, and who held it."""

    waited: bool
    waited_s: float
    holder: str | None

    def describe(self) -> str:
        if not self.waited:
            return "did not wait for another export"
        return f"waited {self.waited_s:.1f} s for another export ({self.holder or 'holder unknown'})"


def _holder_note(lock_path: Path) -> Path:
    return lock_path.with_name(lock_path.name + ".holder")


def _read_holder(lock_path: Path) -> str | None:
    try:
        note = json.loads(_holder_note(lock_path).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return f"pid {note.get('pid')} on {note.get('host')} since {note.get('since')}"


@contextlib.contextmanager
def exclusive_lock(lock_path: Path, *, timeout_s: float) -> Iterator[LockWait]:
    """Hold the lock at ``lock_path`` for the block; yield how long it took to get it."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(lock_path))
    started = time.monotonic()
    holder = None
    waited = False
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        waited = True
        holder = _read_holder(lock_path)
        logger.warning("dataset repository is locked by another export (%s); waiting", holder or "unknown")
        try:
            lock.acquire(timeout=timeout_s)
        except filelock.Timeout:
            raise LockTimeoutError(
                f"another export ({holder or 'unknown holder'}) held {lock_path} for more than {timeout_s:.0f} s"
            ) from None
    wait = LockWait(waited=waited, waited_s=time.monotonic() - started, holder=holder)
    try:
        note = {"pid": os.getpid(), "host": socket.gethostname(), "since": datetime.now(UTC).isoformat()}
        write_text_atomic(_holder_note(lock_path), json.dumps(note))
        yield wait
    finally:
        _holder_note(lock_path).unlink(missing_ok=True)
        lock.release()
