"""HTTP(S) reads with ``Range`` requests, for videos on web servers, CDNs and presigned object-store URLs.

urllib3 (already a dependency of boto3) does the connection pooling. What needs policy is done here:

* **Where to connect.** Every URL, redirects included, is parsed by :func:`cvops.url_policy.parse_http_url`
  (urllib3's own parser, cross-checked with the standard library's), and the request goes to the pool of exactly
  that scheme, host and port with only the path and query on the request line, so nothing re-parses the URL on
  the way to the socket. Redirects are followed by hand, within the same origin and at most
  ``max_redirects`` times; a redirect to another origin is refused with an error naming both.
* **How much to read.** A ranged answer must cover the range asked for and no more (a bigger one is refused
  before its body is read); a whole-object read stops at its :class:`~cvops.video.transport.SizeLimit`; a
  compressed answer is refused (identity was asked for, and a compressed body could inflate without bound).
* **How long.** ``timeout_s`` bounds each wait for bytes; ``request_timeout_s`` bounds the whole request
  (:mod:`cvops.video.deadline`), so a server that drips bytes is cut off. That is not retried: a retry would only
  give the server another ``request_timeout_s``.
* **Retries.** A body that breaks off mid-transfer is retried like a 5xx (by :class:`Transport`).
"""

from __future__ import annotations

import functools
import logging
import re
from urllib.parse import unquote, urljoin

import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error

from cvops.redaction import RedactingFilter, redact_text, redact_url
from cvops.url_policy import FORBIDDEN_CHARACTERS, HttpTarget, UnsafeUrlError, parse_http_url
from cvops.video.deadline import RequestDeadline, WatchedHTTPConnection, WatchedHTTPSConnection, request_deadline
from cvops.video.errors import SourceReadError
from cvops.video.transport import ObjectInfo, SizeLimit, TransientReadError, Transport
from cvops.video.uri import SourceKind

# urllib3 logs every request target (query included) at DEBUG level.
logging.getLogger("urllib3.connectionpool").addFilter(RedactingFilter())

TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
_PIECE = 1 << 20
# The rest of a redirect or error body is read (so the connection can be reused) only when it is this small.
_DRAIN_LIMIT = 64 << 10


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = WatchedHTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = WatchedHTTPSConnection


@functools.cache
def _pool() -> urllib3.PoolManager:
    # One pool for the process: connections to a host are reused across videos and worker threads.
    manager = urllib3.PoolManager(num_pools=32, maxsize=32, retries=False)
    manager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
    return manager


class HttpTransport(Transport):
    kind = SourceKind.HTTP

    def _stat(self, uri: str) -> ObjectInfo:
        # A one-byte ranged GET rather than HEAD: presigned URLs are signed for GET only.
        data, total = self._fetch(uri, 0, 1, None)
        self._counted(data)
        if total is None:
            raise SourceReadError(f"{redact_url(uri)} did not report its size in Content-Range")
        return ObjectInfo(size=total)

    def _read(self, uri: str, start: int, stop: int | None, limit: SizeLimit | None) -> bytes:
        data, _ = self._fetch(uri, start, stop, limit)
        return self._counted(data)

    def _fetch(self, uri: str, start: int, stop: int | None, limit: SizeLimit | None) -> tuple[bytes, int | None]:
        """The body of one GET (ranged unless it is the whole object) and the object's size if it said."""
        ranged = start > 0 or stop is not None
        with request_deadline(self.settings.request_timeout_s) as deadline:
            response = self._open(uri, (start, stop) if ranged else None, deadline)
            try:
                if ranged:
                    first, last, total = _content_range(response, uri, start, stop)
                    expected: int | None = last - first + 1
                    cap = expected
                else:
                    total, expected = None, None
                    cap = limit.bytes if limit is not None else None
                _check_length(response, uri, expected, limit if not ranged else None)
                data = self._body(response, uri, cap, limit, deadline)
            except BaseException:
                response.close()
                raise
            finally:
                response.release_conn()
        if expected is not None and len(data) != expected:
            raise TransientReadError(f"short read: {len(data)} of {expected} bytes")
        return data, total

    def _open(
        self, uri: str, byte_range: tuple[int, int | None] | None, deadline: RequestDeadline
    ) -> urllib3.BaseHTTPResponse:
        """Send the GET, following same-origin redirects; return the response of a 200 or 206."""
        approved = _approved(uri)
        headers = {"Accept-Encoding": "identity"}
        if byte_range is not None:
            start, stop = byte_range
            headers["Range"] = f"bytes={start}-" + ("" if stop is None else str(stop - 1))
        url, target = uri, approved
        for _ in range(self.settings.max_redirects + 1):
            response = self._send(uri, target, headers, deadline)
            status = response.status
            if status in _REDIRECT_STATUSES:
                location = response.headers.get("Location", "")
                _discard(response)
                url, target = _redirect(uri, url, location, approved)
                continue
            if status in TRANSIENT_STATUSES:
                retry_after = _retry_after(response.headers.get("Retry-After"))
                _discard(response)
                raise TransientReadError(f"HTTP {status}", retry_after=retry_after)
            if status == 206 or (status == 200 and byte_range is None):
                return response
            _discard(response)
            if status == 200:
                raise SourceReadError(
                    f"{redact_url(uri)}: the server ignores Range requests, so a frame cannot be read without "
                    "downloading the whole video"
                )
            raise SourceReadError(f"{redact_url(uri)}: HTTP {status} {response.reason or ''}".rstrip())
        raise SourceReadError(
            f"{redact_url(uri)}: too many redirects (more than {self.settings.max_redirects}, "
            f"ReaderSettings.max_redirects); the last pointed at {redact_url(url)}"
        )

    def _send(
        self, uri: str, target: HttpTarget, headers: dict[str, str], deadline: RequestDeadline
    ) -> urllib3.BaseHTTPResponse:
        origin = target.origin
        if target.userinfo:
            headers = {**headers, **urllib3.util.make_headers(basic_auth=unquote(target.userinfo))}
        wait = max(0.001, min(self.settings.timeout_s, deadline.remaining()))
        pool = _pool().connection_from_host(origin.host, port=origin.port, scheme=origin.scheme)
        try:
            return pool.urlopen(
                "GET",
                target.request_target,
                headers=headers,
                redirect=False,
                retries=False,
                timeout=urllib3.Timeout(connect=wait, read=wait),
                preload_content=False,
                assert_same_host=False,
            )
        except Urllib3Error as exc:
            raise _network_error(exc, deadline, uri) from exc

    def _body(
        self,
        response: urllib3.BaseHTTPResponse,
        uri: str,
        cap: int | None,
        limit: SizeLimit | None,
        deadline: RequestDeadline,
    ) -> bytes:
        """Read the body in pieces, refusing more than ``cap`` bytes (a range, or the size limit)."""
        pieces: list[bytes] = []
        size = 0
        try:
            while piece := response.read(_PIECE if cap is None else min(_PIECE, cap - size + 1)):
                size += len(piece)
                if cap is not None and size > cap:
                    if limit is not None:
                        raise limit.error(uri)
                    raise SourceReadError(f"{redact_url(uri)}: the server sent more than the {cap} bytes asked for")
                pieces.append(piece)
        except Urllib3Error as exc:
            raise _network_error(exc, deadline, uri) from exc
        if deadline.expired:
            raise _too_slow(uri, deadline)
        return b"".join(pieces)


def _approved(uri: str) -> HttpTarget:
    try:
        return parse_http_url(uri)
    except UnsafeUrlError as exc:  # resolve_video and resolve_child check first; this is the last line
        raise SourceReadError(f"refusing {redact_url(uri)}: {exc}") from None


def _redirect(uri: str, current: str, location: str, approved: HttpTarget) -> tuple[str, HttpTarget]:
    """The next URL of a redirect chain, if it stays on the approved origin."""
    if not location.strip():
        raise SourceReadError(f"{redact_url(uri)}: a redirect without a Location")
    if FORBIDDEN_CHARACTERS.search(location.strip()):
        raise SourceReadError(
            f"{redact_url(uri)} redirects to {redact_url(location)!r}, which holds whitespace, a control character "
            "or a backslash"
        )
    try:
        url = urljoin(current, location.strip())
    except ValueError as exc:  # "Invalid IPv6 URL"
        raise SourceReadError(
            f"{redact_url(uri)} redirects to {redact_url(location)!r}, which is refused: {exc}"
        ) from None
    try:
        target = parse_http_url(url)
    except UnsafeUrlError as exc:
        raise SourceReadError(f"{redact_url(uri)} redirects to {redact_url(url)}, which is refused: {exc}") from None
    if target.origin != approved.origin:
        raise SourceReadError(
            f"{redact_url(uri)} redirects to {redact_url(url)}, another origin ({target.origin}, not "
            f"{approved.origin}); use the final URL instead"
        )
    return url, target


def _content_range(
    response: urllib3.BaseHTTPResponse, uri: str, start: int, stop: int | None
) -> tuple[int, int, int | None]:
    header = response.headers.get("Content-Range", "")
    match = _CONTENT_RANGE.fullmatch(header.strip())
    if match is None or int(match.group(1)) != start or int(match.group(2)) < start:
        raise SourceReadError(f"{redact_url(uri)}: bad Content-Range {header!r}")
    first, last = int(match.group(1)), int(match.group(2))
    if stop is not None and last >= stop:
        raise SourceReadError(
            f"{redact_url(uri)}: asked for bytes {start}-{stop - 1}, the server answered with {first}-{last}"
        )
    total = None if match.group(3) == "*" else int(match.group(3))
    return first, last, total


def _check_length(response: urllib3.BaseHTTPResponse, uri: str, expected: int | None, limit: SizeLimit | None) -> None:
    """Refuse, before reading the body, an answer that is compressed or declares more bytes than allowed."""
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise SourceReadError(f"{redact_url(uri)}: the server compressed the body ({encoding}) though asked not to")
    declared = response.headers.get("Content-Length")
    if declared is None or not declared.strip().isdigit():
        return
    length = int(declared)
    if expected is not None and length != expected:
        raise SourceReadError(
            f"{redact_url(uri)}: Content-Length {length} does not match the {expected} bytes of Content-Range"
        )
    if limit is not None and length > limit.bytes:
        raise limit.error(uri)


def _discard(response: urllib3.BaseHTTPResponse) -> None:
    """Finish with a response whose body is not wanted: drain a small body so the connection can be reused,
    close the connection on a big or unbounded one (reading a hostile body to save a connection is not worth it)."""
    remaining = getattr(response, "length_remaining", None)
    if remaining is not None and remaining <= _DRAIN_LIMIT:
        response.drain_conn()
    else:
        response.close()
    response.release_conn()


def _network_error(exc: Urllib3Error, deadline: RequestDeadline, uri: str) -> Exception:
    if deadline.expired:
        return _too_slow(uri, deadline)
    return TransientReadError(_describe(exc))


def _too_slow(uri: str, deadline: RequestDeadline) -> SourceReadError:
    return SourceReadError(
        f"{redact_url(uri)}: the request took longer than {deadline.seconds:g} s (ReaderSettings.request_timeout_s) "
        "and was cut off"
    )


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date; the usual backoff is good enough


def _describe(exc: BaseException) -> str:
    # urllib3 wraps the interesting part (reset, timeout, refused) a level or two down.
    reason = getattr(exc, "reason", None) or (exc.args[-1] if exc.args else None)
    text = str(reason) if reason is not None else str(exc)
    return f"{type(exc).__name__}: {redact_text(text)}"
