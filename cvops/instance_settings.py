"""The Dagster instance settings (``DAGSTER_HOME/dagster.yaml``) that ``cvops init`` writes, from the environment.

Laptop (no variable set): SQLite storage under ``DAGSTER_HOME``, as Dagster's default. Production: with
``CVOPS_POSTGRES_URL`` (or Dagster's own ``DAGSTER_PG_*`` variables) set, run, event-log and schedule storage live
in Postgres (``dagster-postgres``), so the webserver, the daemon, the code server and every run worker, on any
node, share one instance. The file names the variables, never their values: a password stays in the environment
(a Kubernetes Secret, a compose ``.env``) and never reaches the file, the UI or a log.

In both cases: telemetry off, run monitoring on (a crashed run's concurrency slots are freed and its run marked
failed), runs queued by the ``QueuedRunCoordinator`` a few at a time so a backfill of hundreds of matches does not
start hundreds of processes at once, and steps that name a pool (the GPU steps) one at a time per pool unless
configured.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from cvops.errors import InputError

POSTGRES_URL_ENV = "CVOPS_POSTGRES_URL"
MAX_CONCURRENT_RUNS_ENV = "CVOPS_MAX_CONCURRENT_RUNS"
# Dagster's own names (its docs and Helm chart use them); host, user and database are required together.
PG_HOST_ENV, PG_USER_ENV, PG_PASSWORD_ENV, PG_DB_ENV, PG_PORT_ENV = (
    "DAGSTER_PG_HOST",
    "DAGSTER_PG_USERNAME",
    "DAGSTER_PG_PASSWORD",
    "DAGSTER_PG_DB",
    "DAGSTER_PG_PORT",
)
DEFAULT_MAX_CONCURRENT_RUNS = 4
MANAGED_HEADER = "# Written by `cvops init` from the environment; remove this line to keep your own edits.\n"

_COMMON = """\
telemetry:
  enabled: false
run_monitoring:
  enabled: true
  poll_interval_seconds: 30
  free_slots_after_run_end_seconds: 60
concurrency:
  runs:
    max_concurrent_runs: {max_runs}
  pools:
    default_limit: 1
"""
# Named explicitly on Postgres: the daemon dequeues, so a webserver or sensor never launches a run itself.
_QUEUED = """\
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
"""


def storage_kind(environ: Mapping[str, str] | None = None) -> str:
    """``"postgres"`` when the environment names a Postgres server, else ``"sqlite"``."""
    env = os.environ if environ is None else environ
    return "postgres" if env.get(POSTGRES_URL_ENV) or env.get(PG_HOST_ENV) else "sqlite"


def dagster_yaml(environ: Mapping[str, str] | None = None) -> str:
    """The text of ``dagster.yaml`` for this environment (variables referenced by name, values never copied)."""
    env = os.environ if environ is None else environ
    max_runs = _max_concurrent_runs(env)
    text = MANAGED_HEADER + _COMMON.format(max_runs=max_runs)
    if storage_kind(env) == "sqlite":
        return text
    return text + _QUEUED + _postgres_storage(env)


def _postgres_storage(env: Mapping[str, str]) -> str:
    if env.get(POSTGRES_URL_ENV):
        return f"storage:\n  postgres:\n    postgres_url:\n      env: {POSTGRES_URL_ENV}\n"
    missing = [name for name in (PG_USER_ENV, PG_DB_ENV) if not env.get(name)]
    if missing:
        raise InputError(
            f"{PG_HOST_ENV} is set, so the Dagster instance goes on Postgres, but {' and '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not (or set {POSTGRES_URL_ENV} instead)",
            field=missing[0],
        )
    fields = [("username", PG_USER_ENV), ("hostname", PG_HOST_ENV), ("db_name", PG_DB_ENV)]
    fields += [(key, name) for key, name in (("password", PG_PASSWORD_ENV), ("port", PG_PORT_ENV)) if env.get(name)]
    lines = "".join(f"      {key}:\n        env: {name}\n" for key, name in fields)
    return f"storage:\n  postgres:\n    postgres_db:\n{lines}"


def _max_concurrent_runs(env: Mapping[str, str]) -> int:
    raw = env.get(MAX_CONCURRENT_RUNS_ENV, str(DEFAULT_MAX_CONCURRENT_RUNS))
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise InputError(f"must be a whole number of runs, at least 1; got {raw!r}", field=MAX_CONCURRENT_RUNS_ENV)
    return value
