"""The dataset repository (git + DVC) and its remote, as a Dagster resource."""

from pathlib import Path

import dagster as dg
from pydantic import Field

from cvops.datasets import DatasetRepo, RemoteSettings
from cvops.settings import CvopsPaths


class DatasetRepoResource(dg.ConfigurableResource):
    """Where dataset versions are committed and pushed (docs/datasets.md). Unset fields follow the environment:
    ``$CVOPS_HOME/dataset-repo`` and ``CVOPS_DVC_REMOTE``; S3 credentials come from the standard AWS variables."""

    path: str | None = Field(default=None, description="Dataset repository; unset: $CVOPS_HOME/dataset-repo.")
    remote: str | None = Field(default=None, description="A folder or s3://bucket/prefix; unset: CVOPS_DVC_REMOTE.")
    s3_endpoint_url: str | None = Field(default=None, description="S3 endpoint (MinIO, moto, ...); unset: AWS.")
    lock_timeout_s: float = Field(default=6 * 3600, gt=0, description="How long an export waits for another.")

    def repo(self) -> DatasetRepo:
        paths = CvopsPaths.from_env()
        remote = RemoteSettings(url=self.remote or paths.dvc_remote, endpoint_url=self.s3_endpoint_url)
        return DatasetRepo(Path(self.path) if self.path else paths.dataset_repo, remote)
