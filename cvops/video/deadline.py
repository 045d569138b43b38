"""A limit on the total time of one blocking HTTP request, connection set-up, headers and body included.

Socket timeouts bound each wait for bytes, not their sum: a server that sends one byte every few seconds keeps a
read alive forever. Python has no per-request deadline for blocking sockets, so a timer does it: while a
request runs, the connection it uses is registered with the thread's :class:`RequestDeadline`, and when the
deadline passes the timer shuts the socket down, which makes the blocked read fail at once. The connection
classes below register themselves whenever urllib3 connects or sends a request.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection

_current = threading.local()


class RequestDeadline:
    """The deadline of the request running in this thread; ``expired`` says whether the timer cut it off."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._ends = time.monotonic() + seconds
        self._connection: Any = None
        self._done = False
        self._lock = threading.Lock()

    def remaining(self) -> float:
        return max(0.0, self._ends - time.monotonic())

    def attach(self, connection: Any) -> None:
        with self._lock:
            self._connection = connection
            expired = self.expired
        if expired:
            _shut(connection)

    def expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            connection = self._connection
        if connection is not None:
            _shut(connection)

    def finish(self) -> None:
        with self._lock:
            self._done = True


@contextlib.contextmanager
def request_deadline(seconds: float) -> Iterator[RequestDeadline]:
    """Cut off the connection of whatever request this thread runs inside the block after ``seconds``."""
    deadline = RequestDeadline(seconds)
    timer = threading.Timer(seconds, deadline.expire)
    timer.daemon = True
    _current.deadline = deadline
    timer.start()
    try:
        yield deadline
    finally:
        deadline.finish()
        timer.cancel()
        _current.deadline = None


class _Watched:
    """Registers the connection with the running request's deadline before it connects or sends."""

    def connect(self) -> None:
        _attach(self)
        super().connect()  # type: ignore[misc]

    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach(self)
        super().request(*args, **kwargs)  # type: ignore[misc]


class WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


def _attach(connection: Any) -> None:
    deadline = getattr(_current, "deadline", None)
    if deadline is not None:
        deadline.attach(connection)


def _shut(connection: Any) -> None:
    sock = getattr(connection, "sock", None)
    if sock is not None:
        # The plain socket's shutdown, also for TLS: it only wakes the blocked reader, TLS state is left alone.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
