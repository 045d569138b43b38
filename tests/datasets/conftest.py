"""Fixtures for dataset-version tests: tiny JPEG samples, a repository with a local remote, an S3 server.

Every test runs the real git and the real DVC; the S3 remote is moto's standalone server on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cvops.datasets import DatasetRepo, RemoteSettings
from tests.datasets.dataset_helpers import S3_BUCKET, S3_SECRET, S3Server, SampleFactory


@pytest.fixture
def sample_factory(tmp_path: Path) -> SampleFactory:
    return SampleFactory(tmp_path / "sample-cache")


@pytest.fixture
def local_remote(tmp_path: Path) -> Path:
    return tmp_path / "dvc-remote"


@pytest.fixture
def dataset_repo(tmp_path: Path, local_remote: Path) -> DatasetRepo:
    return DatasetRepo(tmp_path / "dataset-repo", RemoteSettings(str(local_remote)))


@pytest.fixture
def s3_server(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Server]:
    """An empty bucket on the moto server; the AWS variables point at it (as a user's shell would)."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "cvops-test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", S3_SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=S3_BUCKET)
    yield S3Server(endpoint_url=moto_endpoint, bucket=S3_BUCKET)
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=S3_BUCKET):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=S3_BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=S3_BUCKET)
