"""Creating the platform's state folder: the Dagster instance settings and the catalog.

Idempotent: it writes only what is missing or what the environment changed, so every entry point (make, CLI,
tests) can call it.
"""

from __future__ import annotations

from cvops.catalog import Catalog
from cvops.instance_settings import MANAGED_HEADER, dagster_yaml
from cvops.io import write_text_atomic
from cvops.settings import CvopsPaths


def init_home(paths: CvopsPaths | None = None) -> CvopsPaths:
    """Create ``CVOPS_HOME``, ``DAGSTER_HOME/dagster.yaml`` and the catalog views."""
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
    write_instance_settings(paths)
    Catalog.at(paths).refresh()
    return paths


def write_instance_settings(paths: CvopsPaths) -> bool:
    """Write ``dagster.yaml`` for the current environment (:mod:`cvops.instance_settings`); True if it changed.

    A file that ``cvops init`` wrote (it starts with :data:`MANAGED_HEADER`) follows the environment, so setting
    ``CVOPS_POSTGRES_URL`` and running ``cvops init`` again moves the instance to Postgres; a file without the
    header is the user's own and is never touched.
    """
    target = paths.dagster_home / "dagster.yaml"
    wanted = dagster_yaml()
    if target.exists():
        current = target.read_text()
        if current == wanted or not current.startswith(MANAGED_HEADER):
            return False
    write_text_atomic(target, wanted)
    return True
