"""Creating the platform's state folder: the Dagster instance settings and the catalog.

Idempotent: it only writes what is missing, so every entry point (make, CLI, tests) can call it.
"""

from __future__ import annotations

from cvops.catalog import Catalog, Manifests
from cvops.io import write_text_atomic
from cvops.settings import CvopsPaths

# Telemetry off (no network here, and users' data stays theirs); run monitoring on, so that a crashed run's
# concurrency slots are freed; runs queued a few at a time so a backfill of hundreds of matches does not start
# hundreds of processes at once; steps that name a pool (the GPU steps) one at a time per pool unless configured.
DAGSTER_YAML = """\
telemetry:
  enabled: false
run_monitoring:
  enabled: true
  poll_interval_seconds: 30
  free_slots_after_run_end_seconds: 60
concurrency:
  runs:
    max_concurrent_runs: 4
  pools:
    default_limit: 1
"""


def init_home(paths: CvopsPaths | None = None) -> CvopsPaths:
    """Create ``CVOPS_HOME``, ``DAGSTER_HOME/dagster.yaml`` (if absent) and the catalog views."""
    paths = paths or CvopsPaths.from_env()
    for folder in (
        paths.home,
        paths.dagster_home,
        paths.manifests,
        paths.samples,
        paths.models,
        paths.reports,
    ):
        folder.mkdir(parents=True, exist_ok=True)
    dagster_yaml = paths.dagster_home / "dagster.yaml"
    if not dagster_yaml.exists():
        write_text_atomic(dagster_yaml, DAGSTER_YAML)
    Catalog(paths.catalog, Manifests(paths.manifests)).refresh()
    return paths
