"""Where platform state lives, read from the environment (see ``shared/contracts.md``).

Everything cvops writes lives under one folder, ``CVOPS_HOME`` (default ``./.cvops``), so a user can move,
back up or delete the whole platform state at once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CvopsPaths:
    """The platform's folders and files, all derived from ``CVOPS_HOME`` unless overridden."""

    home: Path
    label_store: Path
    dvc_remote: str

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> CvopsPaths:
        env = os.environ if environ is None else environ
        home = Path(env.get("CVOPS_HOME", ".cvops")).expanduser().absolute()
        label_store = Path(env.get("CVOPS_LABEL_STORE", home / "label-store")).expanduser().absolute()
        dvc_remote = env.get("CVOPS_DVC_REMOTE", str(home / "dvc-remote"))
        return cls(home=home, label_store=label_store, dvc_remote=dvc_remote)

    @property
    def dagster_home(self) -> Path:
        return Path(os.environ.get("DAGSTER_HOME", self.home / "dagster")).absolute()

    @property
    def manifests(self) -> Path:
        return self.home / "manifests"

    @property
    def catalog(self) -> Path:
        return self.home / "catalog.duckdb"

    @property
    def samples(self) -> Path:
        return self.home / "samples"

    @property
    def models(self) -> Path:
        return self.home / "models"

    @property
    def reports(self) -> Path:
        return self.home / "reports"

    @property
    def dataset_repo(self) -> Path:
        return self.home / "dataset-repo"
