"""Reading bytes of a video (or of its playlist and segments), with retries and a count of every byte received.

One :class:`Transport` per scheme (local file, HTTP(S), S3) and per extraction, so ``bytes_read`` is what that
extraction took from the source. Transient failures (connection reset, timeout, HTTP 5xx, throttling) are retried
with exponential backoff and jitter; after the last attempt a :class:`SourceReadError` names the object and the
cause. Permanent failures (not found, access denied, a server that ignores ``Range``) fail at once.
"""

from __future__ import annotations

import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from cvops.redaction import redact_url
from cvops.video.errors import SourceReadError
from cvops.video.options import ReaderSettings
from cvops.video.uri import SourceKind

T = TypeVar("T")


class TransientReadError(Exception):
    """A failure worth retrying. ``retry_after`` is the wait the server asked for, if any (seconds)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class ObjectInfo:
    size: int


@dataclass(frozen=True)
class SizeLimit:
    """The most bytes a whole-object read may return, and the setting that says so (for the error message)."""

    bytes: int
    setting: str

    def error(self, uri: str) -> SourceReadError:
        return SourceReadError(
            f"{redact_url(uri)} is larger than {self.bytes} bytes (ReaderSettings.{self.setting}); "
            "refusing to read it whole"
        )


class Transport(ABC):
    """Random access to objects behind one scheme. Thread-safe: a video's workers share one transport."""

    kind: SourceKind

    def __init__(self, settings: ReaderSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._bytes_read = 0
        self._requests = 0

    @property
    def bytes_read(self) -> int:
        """Bytes received from the source so far, retried attempts included."""
        return self._bytes_read

    @property
    def requests(self) -> int:
        return self._requests

    def stat(self, uri: str) -> ObjectInfo:
        return self._retrying(lambda: self._stat(uri), f"cannot stat {redact_url(uri)}")

    def read(self, uri: str, start: int = 0, stop: int | None = None, *, limit: SizeLimit | None = None) -> bytes:
        """Bytes ``[start, stop)`` of the object (to its end when ``stop`` is None).

        A read to the end refuses objects larger than ``limit`` (``max_segment_bytes`` when not given) without
        reading them; a ranged read never returns more than its range.
        """
        if stop is not None and stop <= start:
            return b""
        if stop is None and limit is None:
            limit = SizeLimit(self.settings.max_segment_bytes, "max_segment_bytes")
        what = f"cannot read {redact_url(uri)}" + (f" bytes {start}-{stop - 1}" if stop is not None else "")
        return self._retrying(lambda: self._read(uri, start, stop, limit), what)

    def _counted(self, data: bytes) -> bytes:
        with self._lock:
            self._bytes_read += len(data)
            self._requests += 1
        return data

    def _retrying(self, action: Callable[[], T], what: str) -> T:
        # Hand-written rather than urllib3's or botocore's retry: those do not retry a body that breaks off
        # mid-transfer, and here every failure must end as one error that names the object.
        delay = self.settings.backoff_s
        attempts = self.settings.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                return action()
            except TransientReadError as exc:
                if attempt == attempts:
                    raise SourceReadError(f"{what}: {exc} (gave up after {attempts} attempts)") from exc
                wait = exc.retry_after if exc.retry_after is not None else delay * random.uniform(0.5, 1.0)
                time.sleep(min(wait, self.settings.max_backoff_s))
                delay *= 2
        raise AssertionError("unreachable")

    @abstractmethod
    def _stat(self, uri: str) -> ObjectInfo: ...

    @abstractmethod
    def _read(self, uri: str, start: int, stop: int | None, limit: SizeLimit | None) -> bytes: ...


class LocalTransport(Transport):
    """Files on disk (a label store on a local or mounted file system)."""

    kind = SourceKind.LOCAL

    def _stat(self, uri: str) -> ObjectInfo:
        try:
            with open(uri, "rb") as file:
                return ObjectInfo(size=file.seek(0, 2))
        except OSError as exc:
            raise SourceReadError(f"cannot open {uri}: {exc.strerror or exc}") from exc

    def _read(self, uri: str, start: int, stop: int | None, limit: SizeLimit | None) -> bytes:
        try:
            with open(uri, "rb") as file:
                size = file.seek(0, 2)
                if stop is None and limit is not None and size - start > limit.bytes:
                    raise limit.error(uri)
                file.seek(start)
                data = file.read() if stop is None else file.read(stop - start)
        except OSError as exc:
            raise SourceReadError(f"cannot read {uri}: {exc.strerror or exc}") from exc
        return self._counted(data)


def open_transport(kind: SourceKind, settings: ReaderSettings) -> Transport:
    """A fresh transport (and byte count) for one extraction."""
    if kind is SourceKind.LOCAL:
        return LocalTransport(settings)
    if kind is SourceKind.HTTP:
        from cvops.video.http import HttpTransport

        return HttpTransport(settings)
    from cvops.video.s3 import S3Transport

    return S3Transport(settings)
