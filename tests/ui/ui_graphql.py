"""A minimal client for the Dagster webserver's GraphQL API, and bounded polling.

The standard library is enough for JSON POSTs to ``/graphql``; ``DagsterGraphQLClient`` (dagster-graphql) only
wraps a few fixed operations (submit a job, get a run's status) and keeps its generic ``_execute`` private.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class GraphQLError(AssertionError):
    """The server answered with GraphQL errors (a bad query) or an error member of a result union."""


class GraphQLClient:
    def __init__(self, base_url: str, timeout_s: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        # The server is local: never send its requests through a proxy named by http_proxy/HTTP_PROXY.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def get(self, path: str) -> dict[str, Any]:
        with self._opener.open(f"{self.base_url}{path}", timeout=self.timeout_s) as response:
            return json.load(response)

    def execute(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The ``data`` of a query or mutation; raises :class:`GraphQLError` when the answer has ``errors``."""
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.base_url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with self._opener.open(request, timeout=self.timeout_s) as response:
                answer = json.load(response)
        except urllib.error.HTTPError as error:  # the webserver answers a bad query with 400 and a JSON body
            answer = json.loads(error.read() or b"{}")
            if "errors" not in answer:
                raise
        if answer.get("errors"):
            messages = "; ".join(e.get("message", str(e)) for e in answer["errors"])
            raise GraphQLError(f"GraphQL errors: {messages}")
        return answer["data"]


def expect_type(result: dict[str, Any], typename: str) -> dict[str, Any]:
    """``result`` if it is a ``typename``; otherwise a :class:`GraphQLError` naming the error member.

    Dagster returns errors as members of result unions (``PythonError``, ``DuplicateDynamicPartitionError``...),
    not as GraphQL errors, so every union result must be checked this way. Query ``__typename``, ``message`` and
    ``stack`` on ``Error`` for a useful report.
    """
    actual = result.get("__typename")
    if actual != typename:
        details = format_error(result) if "message" in result else json.dumps(result)[:2000]
        raise GraphQLError(f"expected {typename}, got {actual}: {details}")
    return result


def format_error(error: dict[str, Any]) -> str:
    """An ``Error``'s message; for a ``PythonError``, the stack of its innermost cause (a definitions load error
    says what failed only in its cause) or its own."""
    causes = error.get("causes") or []
    innermost = causes[-1] if causes else error
    parts = [error["message"].rstrip()]
    if causes:
        parts.append(f"caused by: {innermost['message'].rstrip()}")
    parts.append("".join(innermost.get("stack") or []).rstrip())
    return "\n".join(part for part in parts if part)


PYTHON_ERROR_FIELDS = "message stack causes { message stack }"
ERROR_FIELDS = f"__typename ... on Error {{ message }} ... on PythonError {{ {PYTHON_ERROR_FIELDS} }}"
"""Fields to ask of any result union so that :func:`expect_type` can report its error member."""


def wait_for(
    probe: Callable[[], T | None],
    *,
    timeout_s: float,
    interval_s: float,
    what: str,
    last_state: Callable[[], str] | None = None,
) -> T:
    """Call ``probe`` until it returns something other than ``None``; return that.

    Raises ``TimeoutError`` naming ``what`` (and what ``last_state`` says, e.g. the last answer seen) after
    ``timeout_s``. Exceptions from ``probe`` propagate at once: a probe raises when waiting longer cannot help.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() >= deadline:
            state = f" Last state: {last_state()}" if last_state else ""
            raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}.{state}")
        time.sleep(interval_s)
