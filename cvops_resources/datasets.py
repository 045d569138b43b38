"""The dataset repository (git + DVC) and its remote, as a Dagster resource."""

from pathlib import Path

import dagster as dg
from pydantic import Field

from cvops.datasets import DatasetRepo, RemoteSettings
from cvops.settings import CvopsPaths
from cvops_resources.s3 import S3Resource


class DatasetRepoResource(dg.ConfigurableResource):
    """Where dataset versions are committed and pushed (docs/datasets.md)."""

    path: str | None = Field(default=None, description="Dataset repository; unset: $CVOPS_HOME/dataset-repo.")
    remote: str | None = Field(default=None, description="A folder or s3://bucket/prefix; unset: CVOPS_DVC_REMOTE.")
    git_remote: str | None = Field(
        default=None,
        description="Where commits and dataset/vN tags are pushed (any URL git accepts); unset: "
        "CVOPS_DATASET_GIT_REMOTE, else nowhere.",
    )
    lock_timeout_s: float = Field(default=6 * 3600, gt=0, description="How long an export waits for another.")
    s3: S3Resource = Field(default_factory=S3Resource, description="S3 access, for a remote on S3.")

    def get_repo(self) -> DatasetRepo:
        paths = CvopsPaths.from_env()
        s3 = self.s3.get_settings()
        remote = RemoteSettings(
            url=self.remote or paths.dvc_remote, endpoint_url=s3.endpoint_url, region=s3.region_name
        )
        git_remote = self.git_remote or paths.dataset_git_remote
        return DatasetRepo(Path(self.path) if self.path else paths.dataset_repo, remote, git_remote)
