"""A hostile HTTP server on loopback: scripted answers per path, a record of every request, real files otherwise.

A route is a function of the request (path, headers) that writes whatever it likes: a redirect, an answer that
depends on the user agent, a body far larger than asked for, a body dripped a few bytes at a time, a malformed
playlist. Paths without a route are served from a folder with single-range support, like a CDN.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

Route = Callable[[BaseHTTPRequestHandler], None]
_RANGE = re.compile(r"bytes=(\d+)-(\d*)")


@dataclass(frozen=True)
class Seen:
    path: str
    user_agent: str
    range: str | None
    authorization: str | None


class HostileServer:
    """Serve ``root`` on 127.0.0.1 with ``routes`` overriding paths; ``seen`` lists every request received."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.routes: dict[str, Route] = {}
        self.seen: list[Seen] = []
        self.body_bytes_sent = 0
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def agents(self) -> set[str]:
        with self._lock:
            return {seen.user_agent for seen in self.seen}

    def count_sent(self, size: int) -> None:
        with self._lock:
            self.body_bytes_sent += size


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that hang up on a hostile answer are the point


def _handler(server: HostileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            return

        def do_GET(self) -> None:
            path = urlsplit(self.path).path.lstrip("/")
            with server._lock:
                server.seen.append(
                    Seen(
                        path,
                        self.headers.get("User-Agent", ""),
                        self.headers.get("Range"),
                        self.headers.get("Authorization"),
                    )
                )
            route = server.routes.get(path)
            if route is not None:
                route(self)
            else:
                serve_file(self, server.root / path)

    return Handler


# -- answers a route can give ------------------------------------------------------------------------------------


def serve_file(handler: BaseHTTPRequestHandler, file: Path) -> None:
    if not file.is_file():
        empty(handler, 404)
        return
    data = file.read_bytes()
    match = _RANGE.fullmatch((handler.headers.get("Range") or "").strip())
    if match:
        start = int(match.group(1))
        stop = min(len(data), int(match.group(2)) + 1) if match.group(2) else len(data)
        headers = {"Content-Range": f"bytes {start}-{stop - 1}/{len(data)}"}
        body(handler, 206, data[start:stop], **headers)
    else:
        body(handler, 200, data)


def body(handler: BaseHTTPRequestHandler, status: int, data: bytes, **headers: str) -> None:
    handler.send_response(status)
    handler.send_header("Content-Length", str(len(data)))
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.end_headers()
    handler.wfile.write(data)


def empty(handler: BaseHTTPRequestHandler, status: int, **headers: str) -> None:
    body(handler, status, b"", **headers)


def redirect(location: str, *, status: int = 302, body_size: int = 0) -> Route:
    """A redirect, with a body (as real servers send: "Moved to ...") that a client must drain or drop."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        body(handler, status, b"x" * body_size, Location=location)

    return route


def by_agent(ffmpeg: Route, others: Route) -> Route:
    """One answer for FFmpeg (user agent ``Lavf/...``), another for everyone else."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        (ffmpeg if handler.headers.get("User-Agent", "").startswith("Lavf") else others)(handler)

    return route


def endless(server: HostileServer, *, status: int = 200, declare: int | None = None, **headers: str) -> Route:
    """A body that never ends (until the client hangs up), optionally declaring a Content-Length."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        if declare is not None:
            handler.send_header("Content-Length", str(declare))
        else:
            handler.send_header("Connection", "close")
        for name, value in headers.items():
            handler.send_header(name.replace("_", "-"), value)
        handler.end_headers()
        chunk = b"#" * (64 << 10)
        with contextlib.suppress(OSError):
            for _ in range(10_000):  # 640 MB at most, so a broken client cannot keep the test alive forever
                handler.wfile.write(chunk)
                server.count_sent(len(chunk))
        handler.close_connection = True

    return route


def drip(data: bytes, *, every_s: float, headers_too: bool = False) -> Route:
    """``data`` two bytes at a time, ``every_s`` apart (and the status line and headers too, if asked)."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(data)}\r\n\r\n".encode()
        stream = head + data if headers_too else data
        if not headers_too:
            handler.wfile.write(head)
        with contextlib.suppress(OSError):
            for i in range(0, len(stream), 2):
                handler.wfile.write(stream[i : i + 2])
                handler.wfile.flush()
                time.sleep(every_s)
        handler.close_connection = True

    return route


class SocketRecorder:
    """Records where connections are opened (the ``host, port`` handed to ``getaddrinfo``, which urllib3 calls
    for every new connection); only ``allowed`` hosts are really resolved, the rest fail as unknown names."""

    def __init__(self, allowed: set[str]) -> None:
        self.allowed = allowed
        self.attempts: list[tuple[str, int]] = []
        self._real = socket.getaddrinfo

    def getaddrinfo(self, host, port, *args, **kwargs):
        self.attempts.append((str(host), int(port)))
        if host not in self.allowed:
            raise socket.gaierror(socket.EAI_NONAME, "not resolved in this test")
        return self._real(host, port, *args, **kwargs)
