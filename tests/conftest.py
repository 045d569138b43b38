"""Shared fixtures: an isolated CVOPS_HOME and small hand-made label stores."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.factories import match_row, player_keyframes, write_store
from tests.postgres_server import PostgresServer

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True, scope="session")
def dvc_tool() -> None:
    """Use the repository's DVC tool environment (made by `make install`) when CVOPS_DVC is not set."""
    tool = REPO / ".venv-dvc" / "bin" / "dvc"
    if "CVOPS_DVC" not in os.environ and tool.exists():
        os.environ["CVOPS_DVC"] = str(tool)


@pytest.fixture
def cvops_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh CVOPS_HOME (and DAGSTER_HOME inside it) for one test."""
    home = tmp_path / "cvops-home"
    monkeypatch.setenv("CVOPS_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    monkeypatch.setenv("CVOPS_LABEL_STORE", str(tmp_path / "store"))
    return home


@pytest.fixture
def small_store(cvops_home: Path, tmp_path: Path) -> Path:
    """Three annotated matches and one in progress, at the path CVOPS_LABEL_STORE names."""
    matches = [
        match_row("m0001", annotated_at="2026-02-03T10:00:00+00:00"),
        match_row("m0002", annotated_at="2026-02-01T10:00:00+00:00"),
        match_row("m0003", annotated_at="2026-02-02T10:00:00+00:00", pitch="south"),
        match_row("m0004", status="in_progress"),
    ]
    keyframes = {m["match_id"]: player_keyframes() for m in matches}
    return write_store(tmp_path / "store", matches, keyframes)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's standalone S3 server on 127.0.0.1 (a real HTTP endpoint, so boto3 runs unpatched)."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the session (started on first use, in about a second), on 127.0.0.1."""
    server = PostgresServer.start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> str:
    """The URL of a fresh, empty database on the session's server, for one test."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]
    return postgres_server.create_database(f"{name}_{uuid.uuid4().hex[:8]}")
