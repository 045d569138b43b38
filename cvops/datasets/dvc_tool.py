"""Which DVC cvops runs.

DVC is a program cvops runs, like git: its command line is its stable interface. It is best installed in an
environment of its own, because its dependencies pin ``antlr4-python3-runtime`` 4.9 (through hydra-core) while
Dagster needs 4.13; sharing one environment silently breaks Dagster's asset-selection parser. ``make`` installs it
in ``.venv-dvc`` and points ``CVOPS_DVC`` at it.

Order: ``CVOPS_DVC`` (a ``dvc`` executable), else the ``dvc`` module of this Python if installed, else ``dvc`` on
the PATH.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys

from cvops.errors import CvopsError


def dvc_command() -> list[str]:
    configured = os.environ.get("CVOPS_DVC")
    if configured:
        if shutil.which(configured) is None:
            raise CvopsError(f"CVOPS_DVC={configured!r} is not an executable dvc")
        return [configured]
    if importlib.util.find_spec("dvc") is not None:
        return [sys.executable, "-m", "dvc"]
    on_path = shutil.which("dvc")
    if on_path:
        return [on_path]
    raise CvopsError("DVC not found: run `make install` (it creates .venv-dvc), or install `dvc[s3]` and set CVOPS_DVC")
