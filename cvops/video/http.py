"""HTTP(S) reads with ``Range`` requests, for videos on web servers, CDNs and presigned object-store URLs.

urllib3 (already a dependency of boto3) does the connection pooling; retries and redirects are handled here
because both need policy: a body that breaks off mid-transfer is retried like a 5xx, and a redirect is followed
only within the same origin (scheme, host and port), so a server cannot bounce the reader to an internal host.
A server that answers a ranged request with the whole file is refused rather than silently downloaded in full.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import urljoin

import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error

from cvops.video.errors import SourceReadError
from cvops.video.transport import ObjectInfo, TransientReadError, Transport
from cvops.video.uri import SourceKind, origin, redact

TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 5
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


@functools.cache
def _pool() -> urllib3.PoolManager:
    # One pool for the process: connections to a host are reused across videos and worker threads.
    return urllib3.PoolManager(num_pools=32, maxsize=32, retries=False)


class HttpTransport(Transport):
    kind = SourceKind.HTTP

    def _stat(self, uri: str) -> ObjectInfo:
        # A one-byte ranged GET rather than HEAD: presigned URLs are signed for GET only.
        response = self._request(uri, 0, 1)
        total = _content_range(response, uri, 0)[2]
        self._counted(self._body(response, uri))
        if total is None:
            raise SourceReadError(f"{redact(uri)} did not report its size in Content-Range")
        return ObjectInfo(size=total)

    def _read(self, uri: str, start: int, stop: int | None) -> bytes:
        ranged = start > 0 or stop is not None
        response = self._request(uri, start, stop) if ranged else self._request(uri, None, None)
        if ranged:
            first, last, _ = _content_range(response, uri, start)
            expected = last - first + 1
        else:
            expected = None
        data = self._body(response, uri)
        if expected is not None and len(data) != expected:
            raise TransientReadError(f"short read: {len(data)} of {expected} bytes")
        return self._counted(data)

    def _request(self, uri: str, start: int | None, stop: int | None) -> urllib3.BaseHTTPResponse:
        headers = {"Accept-Encoding": "identity"}
        if start is not None:
            headers["Range"] = f"bytes={start}-" + ("" if stop is None else str(stop - 1))
        timeout = urllib3.Timeout(connect=self.settings.timeout_s, read=self.settings.timeout_s)
        url = uri
        for _ in range(_MAX_REDIRECTS + 1):
            try:
                response = _pool().request(
                    "GET", url, headers=headers, redirect=False, timeout=timeout, preload_content=False
                )
            except Urllib3Error as exc:
                raise TransientReadError(_describe(exc)) from exc
            status = response.status
            if status in _REDIRECT_STATUSES:
                target = urljoin(url, response.headers.get("Location", ""))
                response.release_conn()
                if origin(target) != origin(uri):
                    raise SourceReadError(
                        f"{redact(uri)} redirects to {redact(target)}, another origin; use the final URL instead"
                    )
                url = target
                continue
            if status in TRANSIENT_STATUSES:
                retry_after = _retry_after(response.headers.get("Retry-After"))
                response.release_conn()
                raise TransientReadError(f"HTTP {status}", retry_after=retry_after)
            if status == 206 or (status == 200 and start is None):
                return response
            if status == 200:
                response.close()
                raise SourceReadError(
                    f"{redact(uri)}: the server ignores Range requests, so a frame cannot be read without "
                    "downloading the whole video"
                )
            response.release_conn()
            raise SourceReadError(f"{redact(uri)}: HTTP {status} {response.reason or ''}".rstrip())
        raise SourceReadError(f"{redact(uri)}: more than {_MAX_REDIRECTS} redirects")

    @staticmethod
    def _body(response: urllib3.BaseHTTPResponse, uri: str) -> bytes:
        try:
            return response.read()
        except Urllib3Error as exc:
            raise TransientReadError(_describe(exc)) from exc
        finally:
            response.release_conn()


def _content_range(response: urllib3.BaseHTTPResponse, uri: str, start: int) -> tuple[int, int, int | None]:
    match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
    if match is None or int(match.group(1)) != start:
        response.close()
        raise SourceReadError(f"{redact(uri)}: bad Content-Range {response.headers.get('Content-Range')!r}")
    total = None if match.group(3) == "*" else int(match.group(3))
    return int(match.group(1)), int(match.group(2)), total


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date; the usual backoff is good enough


def _describe(exc: BaseException) -> str:
    # urllib3 wraps the interesting part (reset, timeout, refused) a level or two down.
    reason = getattr(exc, "reason", None) or (exc.args[-1] if exc.args else None)
    text = str(reason) if reason is not None else str(exc)
    return f"{type(exc).__name__}: {text}"
