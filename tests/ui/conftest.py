"""Fixtures of the UI tests: ``dagster dev`` on a fresh CVOPS_HOME, and its log shown when a test fails."""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest

from cvops.home import init_home
from cvops.synth import SynthConfig, generate_store
from tests.ui.ui_graphql import GraphQLClient
from tests.ui.ui_server import DagsterDev, DagsterUI

STARTUP_TIMEOUT_S = 150  # a cold start on 2 busy cores: imports, the code server, the first daemon heartbeats
SYNTH = SynthConfig(n_matches=2, seconds=4, width=320, height=180)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def dagster_ui(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[DagsterUI]:
    """``dagster dev -w workspace.yaml`` on 127.0.0.1, with its own CVOPS_HOME and DAGSTER_HOME, once on the
    laptop's SQLite instance and once on Postgres (``CVOPS_POSTGRES_URL``, the suite's own server).

    Shared by the tests of a module (starting it costs 15-30 s); a test that changes its state says so.
    Its log is ``<tmp>/dagster-dev.log``; on teardown every process it started must have exited.
    """
    root = tmp_path_factory.mktemp("ui")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CVOPS_HOME", str(root / "cvops-home"))
        env.setenv("DAGSTER_HOME", str(root / "cvops-home" / "dagster"))
        env.setenv("CVOPS_LABEL_STORE", str(root / "store"))
        if request.param == "postgres":
            env.setenv("CVOPS_POSTGRES_URL", request.getfixturevalue("postgres_server").create_database(root.name))
        else:
            env.delenv("CVOPS_POSTGRES_URL", raising=False)
        init_home()
        server = DagsterDev.start(log_path=root / "dagster-dev.log", tmp_dir=root / "tmp")
        try:
            client = GraphQLClient(server.url)
            match_ids = generate_store(root / "store-staged", SYNTH)  # while the server starts
            try:
                server.wait_until_ready(client, timeout_s=STARTUP_TIMEOUT_S)
            except Exception as error:
                raise RuntimeError(f"dagster dev did not start: {error}\n{_log_section(server)}") from error
            yield DagsterUI(server, client, root / "store", root / "store-staged", match_ids)
        finally:
            problems = server.stop()
        if problems:
            pytest.fail("dagster dev did not stop cleanly:\n- " + "\n- ".join(problems) + f"\n{_log_section(server)}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Add the tail of dagster dev's log (webserver, daemon, code server, runs) to a failed test's report."""
    report = yield
    ui = getattr(item, "funcargs", {}).get("dagster_ui")
    if report.failed and isinstance(ui, DagsterUI):
        report.sections.append((f"dagster dev log: {ui.server.log_path}", ui.server.log_tail()))
    return report


def _log_section(server: DagsterDev) -> str:
    return f"--- last lines of {server.log_path} ---\n{server.log_tail()}"
