"""A static file server on 127.0.0.1 that honours ``Range``, counts bytes and injects faults.

Python's ``http.server`` ignores ``Range`` (so any client would download whole files) and cannot simulate a
flaky network. This one serves single byte ranges with ``206``, keeps connections alive, counts the bytes it sends
per file (so a test or the benchmark can prove that no whole file was downloaded), and can drop a connection
mid-body or answer with an error status a given number of times. Used by the tests, the benchmark, and handy for
trying the remote code path against a local folder.
"""

from __future__ import annotations

import contextlib
import email.utils
import fnmatch
import re
import socket
import sys
import threading
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_CHUNK = 64 << 10


@dataclass
class Fault:
    """Applies to the next ``count`` requests whose path matches ``pattern`` (fnmatch) and whose byte range starts
    in ``[min_offset, max_offset)`` (to hit media data rather than the index, say)."""

    pattern: str
    kind: str  # "drop": close the connection after ``after_bytes`` of the body; "status": answer ``status``
    count: int = 1
    status: int = 503
    after_bytes: int = 0
    min_offset: int = 0
    max_offset: int | None = None


@dataclass(frozen=True)
class RequestRecord:
    path: str
    range: str | None
    status: int


class LoopbackServer:
    """Serve ``root`` on ``127.0.0.1`` (a free port) in a background thread; use as a context manager."""

    def __init__(self, root: str | Path, *, honour_ranges: bool = True) -> None:
        self.root = Path(root).resolve()
        self.honour_ranges = honour_ranges
        self.redirects: dict[str, str] = {}
        self.bytes_sent: Counter[str] = Counter()  # per path: body bytes handed to the socket
        self.requests: list[RequestRecord] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="loopback-http", daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, relative: str | Path) -> str:
        return f"{self.base_url}/{Path(relative).as_posix().lstrip('/')}"

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def inject(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def reset_counters(self) -> None:
        with self._lock:
            self.bytes_sent.clear()
            self.requests.clear()

    @property
    def total_bytes_sent(self) -> int:
        return sum(self.bytes_sent.values())

    def _take_fault(self, path: str, start: int) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                in_range = fault.min_offset <= start and (fault.max_offset is None or start < fault.max_offset)
                if fault.count > 0 and in_range and fnmatch.fnmatch(path, fault.pattern):
                    fault.count -= 1
                    return fault
        return None

    def _record(self, path: str, range_header: str | None, status: int) -> None:
        with self._lock:
            self.requests.append(RequestRecord(path, range_header, status))

    def _count(self, path: str, size: int) -> None:
        with self._lock:
            self.bytes_sent[path] += size


def _handler(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes; with Nagle on, each response waits for a delayed ACK.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:  # quiet: tests read counters, not logs
            return

        def do_HEAD(self) -> None:
            self._serve(body=False)

        def do_GET(self) -> None:
            self._serve(body=True)

        def _serve(self, *, body: bool) -> None:
            path = unquote(urlsplit(self.path).path).lstrip("/")
            range_header = self.headers.get("Range")
            if path in server.redirects:
                self._empty(302, path, range_header, Location=server.redirects[path])
                return
            file = (server.root / path).resolve()
            if not file.is_relative_to(server.root) or not file.is_file():
                self._empty(404, path, range_header)
                return
            size = file.stat().st_size
            start, stop, status = 0, size, 200
            match = _RANGE.fullmatch(range_header.strip()) if range_header and server.honour_ranges else None
            if match and (match.group(1) or match.group(2)):
                first, last = match.groups()
                if first:
                    start, stop = int(first), min(size, int(last) + 1) if last else size
                else:
                    start, stop = max(0, size - int(last)), size
                status = 206
            fault = server._take_fault(path, start)
            if fault is not None and fault.kind == "status":
                self._empty(fault.status, path, range_header, **{"Retry-After": "0"})
                return
            if status == 206 and (start >= size or stop <= start):
                self._empty(416, path, range_header, **{"Content-Range": f"bytes */{size}"})
                return
            self.send_response(status)
            self.send_header("Content-Length", str(stop - start))
            self.send_header("Content-Type", _content_type(file))
            self.send_header("Accept-Ranges", "bytes" if server.honour_ranges else "none")
            stat = file.stat()
            self.send_header("ETag", f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"')
            self.send_header("Last-Modified", email.utils.formatdate(stat.st_mtime, usegmt=True))
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{size}")
            server._record(path, range_header, status)  # before the client can see the answer
            self.end_headers()
            if body:
                limit = fault.after_bytes if fault is not None and fault.kind == "drop" else None
                self._send_file(path, file, start, stop, limit)

        def _send_file(self, path: str, file: Path, start: int, stop: int, limit: int | None) -> None:
            sent = 0
            with open(file, "rb") as handle:
                handle.seek(start)
                while start + sent < stop:
                    want = min(_CHUNK, stop - start - sent)
                    if limit is not None:
                        want = min(want, limit - sent)
                        if want <= 0:
                            self._drop()
                            return
                    chunk = handle.read(want)
                    server._count(path, len(chunk))
                    try:
                        self.wfile.write(chunk)
                    except (BrokenPipeError, ConnectionResetError):
                        self.close_connection = True
                        return  # the client went away (ffmpeg does, once it has what it needs)
                    sent += len(chunk)
            if limit is not None:
                self._drop()

        def _drop(self) -> None:
            with contextlib.suppress(OSError):
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True

        def _empty(self, status: int, path: str, range_header: str | None, **headers: str) -> None:
            server._record(path, range_header, status)  # before the client can see the answer
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients hang up on kept-alive connections all the time (ffmpeg does after every seek); only a real
        # bug in the handler is worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _content_type(file: Path) -> str:
    return {
        ".mp4": "video/mp4",
        ".m3u8": "application/vnd.apple.mpegurl",
        ".ts": "video/mp2t",
        ".m4s": "video/iso.segment",
    }.get(file.suffix.lower(), "application/octet-stream")
