"""Fixtures for dataset-version tests: tiny JPEG samples, a repository with a local remote, an S3 server.

Every test runs the real git and the real DVC; the S3 remote is moto's standalone server on 127.0.0.1.
"""

from __future__ import annotations

import logging
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


@pytest.fixture(scope="session")
def _moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_server(_moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Server]:
    """An empty bucket on the moto server; the AWS variables point at it (as a user's shell would)."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL", _moto_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "cvops-test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", S3_SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    client = boto3.client("s3", endpoint_url=_moto_server, region_name="us-east-1")
    client.create_bucket(Bucket=S3_BUCKET)
    yield S3Server(endpoint_url=_moto_server, bucket=S3_BUCKET)
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=S3_BUCKET):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=S3_BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=S3_BUCKET)
