"""Where platform state lives, read from the environment (the variables are listed in README.md).

Everything cvops writes lives under one folder, ``CVOPS_HOME`` (default ``./.cvops``), so a user can move,
back up or delete the whole platform state at once; the label store, the DVC remote and the model registry can
live elsewhere. This is the only place that spells a state path: everything else asks :class:`CvopsPaths`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "CVOPS_HOME"
LABEL_STORE_ENV = "CVOPS_LABEL_STORE"
DVC_REMOTE_ENV = "CVOPS_DVC_REMOTE"
MODEL_REGISTRY_ENV = "CVOPS_MODEL_REGISTRY"
DATASET_GIT_REMOTE_ENV = "CVOPS_DATASET_GIT_REMOTE"
STATE_URL_ENV = "CVOPS_STATE_URL"


@dataclass(frozen=True)
class CvopsPaths:
    """The platform's folders and files, all derived from ``CVOPS_HOME`` unless overridden."""

    home: Path
    label_store: Path
    dvc_remote: str
    """A folder or ``s3://bucket/prefix``."""
    model_registry: str
    """A folder or ``s3://bucket/prefix``."""
    dataset_git_remote: str | None = None
    """Where the dataset repository's commits and ``dataset/vN`` tags are pushed (any URL git accepts); unset:
    nowhere, the versions stay in this machine's repository."""
    state_url: str | None = None
    """``s3://bucket/prefix`` holding the state steps share (the catalog manifests), so steps on different nodes
    see one platform; unset: everything under ``home``."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CvopsPaths:
        env = os.environ if environ is None else environ
        home = Path(env.get(HOME_ENV, ".cvops")).expanduser().absolute()
        label_store = Path(env.get(LABEL_STORE_ENV, home / "label-store")).expanduser().absolute()
        dvc_remote = env.get(DVC_REMOTE_ENV, str(home / "dvc-remote"))
        model_registry = env.get(MODEL_REGISTRY_ENV) or str(home / "models")
        return cls(
            home=home,
            label_store=label_store,
            dvc_remote=dvc_remote,
            model_registry=model_registry,
            dataset_git_remote=env.get(DATASET_GIT_REMOTE_ENV) or None,
            state_url=env.get(STATE_URL_ENV) or None,
        )

    @classmethod
    def under(cls, home: str | Path) -> CvopsPaths:
        """Every path under ``home``, whatever the environment says (tests, resources given a folder)."""
        return cls.from_env({HOME_ENV: str(home)})

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
        """The model registry's folder when it is local and not set elsewhere."""
        return self.home / "models"

    @property
    def models_cache(self) -> Path:
        """Local copies of an S3 registry's files."""
        return self.home / "models-cache"

    @property
    def checkouts(self) -> Path:
        """Dataset versions checked out for training."""
        return self.home / "checkouts"

    @property
    def reports(self) -> Path:
        return self.home / "reports"

    @property
    def dataset_repo(self) -> Path:
        return self.home / "dataset-repo"

    @property
    def cvat_tasks(self) -> Path:
        """CVAT tasks the platform prepared for annotators (``cvops export-cvat``; one folder per task)."""
        return self.home / "cvat-tasks"
