"""The Dagster instance on a real Postgres server (started by the suite): settings, and the platform running on it.

The sensor and a backfill of two matches under the real daemon run on Postgres in tests/ui (its ``dagster_ui``
fixture runs once per storage); here, the settings ``cvops init`` writes and the demo's first wave.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

from cvops.home import init_home
from cvops.instance_settings import MANAGED_HEADER
from cvops_cli.main import main
from tests.postgres_server import PostgresServer

POSTGRES_VARIABLES = ("CVOPS_POSTGRES_URL", "DAGSTER_PG_HOST", "DAGSTER_PG_USERNAME", "DAGSTER_PG_DB")


@pytest.fixture(autouse=True)
def _no_postgres_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*POSTGRES_VARIABLES, "DAGSTER_PG_PASSWORD", "DAGSTER_PG_PORT", "CVOPS_MAX_CONCURRENT_RUNS"):
        monkeypatch.delenv(name, raising=False)


def _instance(dagster_home: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(dagster_home))


def test_postgres_url_puts_runs_events_and_schedules_on_postgres_without_copying_the_secret(
    cvops_home: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = postgres_url.replace("postgres@", "postgres:not-in-any-file@")  # trust auth: any password is accepted
    monkeypatch.setenv("CVOPS_POSTGRES_URL", url)
    monkeypatch.setenv("CVOPS_MAX_CONCURRENT_RUNS", "3")
    result = CliRunner().invoke(main, ["init"])
    assert result.exit_code == 0, result.output
    assert "Dagster instance storage: postgres" in result.output and "not-in-any-file" not in result.output

    settings = (cvops_home / "dagster" / "dagster.yaml").read_text()
    assert "not-in-any-file" not in settings and "env: CVOPS_POSTGRES_URL" in settings
    instance = _instance(cvops_home / "dagster")
    try:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        assert isinstance(instance.run_coordinator, dg.QueuedRunCoordinator)
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 3
        assert instance.run_monitoring_enabled
        run = instance.create_run_for_job(dg.GraphDefinition("noop").to_job())  # a row really lands in Postgres
        assert [r.run_id for r in _instance(cvops_home / "dagster").get_runs()] == [run.run_id]
    finally:
        instance.dispose()
    assert not list((cvops_home / "dagster").glob("**/*.db")), "no SQLite file on the Postgres instance"


def test_dagster_pg_variables_work_too_and_a_missing_one_is_named(
    cvops_home: Path, postgres_server: PostgresServer, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_PG_HOST", "127.0.0.1")
    monkeypatch.setenv("DAGSTER_PG_PORT", str(postgres_server.port))
    monkeypatch.setenv("DAGSTER_PG_DB", postgres_url.rsplit("/", 1)[1])
    result = CliRunner().invoke(main, ["init"])
    assert result.exit_code == 1 and "DAGSTER_PG_USERNAME" in result.output, result.output

    monkeypatch.setenv("DAGSTER_PG_USERNAME", "postgres")
    assert CliRunner().invoke(main, ["init"]).exit_code == 0
    instance = _instance(cvops_home / "dagster")
    try:
        assert isinstance(instance.run_storage, PostgresRunStorage) and instance.get_runs() == []
    finally:
        instance.dispose()


def test_settings_follow_the_environment_but_a_users_own_file_is_kept(
    cvops_home: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = init_home().dagster_home / "dagster.yaml"
    assert settings.read_text().startswith(MANAGED_HEADER) and "storage:" not in settings.read_text()
    monkeypatch.setenv("CVOPS_POSTGRES_URL", postgres_url)
    init_home()
    assert "env: CVOPS_POSTGRES_URL" in settings.read_text()
    monkeypatch.delenv("CVOPS_POSTGRES_URL")
    init_home()
    assert "storage:" not in settings.read_text()  # back on SQLite

    own = settings.read_text().removeprefix(MANAGED_HEADER)
    settings.write_text(own)
    monkeypatch.setenv("CVOPS_POSTGRES_URL", postgres_url)
    init_home()
    assert settings.read_text() == own


def test_bad_run_limit_is_named(cvops_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CVOPS_MAX_CONCURRENT_RUNS", "lots")
    result = CliRunner().invoke(main, ["init"])
    assert result.exit_code == 1 and "CVOPS_MAX_CONCURRENT_RUNS" in result.output and "'lots'" in result.output


@pytest.mark.slow
def test_demo_first_wave_runs_on_postgres(cvops_home: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo's first wave as the demo runs it (sensor ticks, the per-match runs, automation, a dataset
    version), on an instance whose runs, events and sensor state are in Postgres; training is left to the
    training tests."""
    from cvops.synth import SynthConfig, generate_store
    from cvops_assets.definitions import defs
    from cvops_assets.demo import DEMO_OP_CONFIG, DaemonStandIn

    monkeypatch.setenv("CVOPS_POSTGRES_URL", postgres_url)
    paths = init_home()
    generate_store(paths.label_store, SynthConfig(n_matches=2, seconds=4.0, width=320, height=180, seed=3))
    instance = _instance(paths.dagster_home)
    try:
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        daemon = DaemonStandIn(defs, instance, lambda _: None, op_config=DEMO_OP_CONFIG)
        daemon.run_until_idle()
        export = daemon.materialize([dg.AssetKey("dataset_export_preview"), dg.AssetKey("dataset_version")])
        assert export.success
    finally:
        instance.dispose()

    reopened = _instance(paths.dagster_home)  # what a webserver on another node would read
    try:
        assert sorted(reopened.get_dynamic_partitions("matches")) == ["m0000", "m0001"]
        for key in ("raw_labels", "cleaned_tracks", "selected_frames", "frame_samples"):
            records = reopened.fetch_materializations(dg.AssetKey(key), limit=10).records
            assert sorted(r.asset_materialization.partition for r in records) == ["m0000", "m0001"], key
        assert reopened.fetch_materializations(dg.AssetKey("dataset_version"), limit=10).records
        failed = reopened.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))
        assert not failed, [r.run_id for r in failed]
    finally:
        reopened.dispose()
