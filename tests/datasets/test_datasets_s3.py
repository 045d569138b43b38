"""An S3 remote (moto's server on 127.0.0.1): push, pull into a fresh folder, and no secret written anywhere."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from cvops.datasets import DatasetRepo, RemoteSettings, checkout_version, export_dataset, verify_files
from tests.datasets.dataset_helpers import (
    EXPORT_ARGS,
    S3_SECRET,
    S3Server,
    SampleFactory,
    s3_keys,
    tree_text,
    version_objects,
)


@pytest.mark.slow
def test_versions_go_to_s3_and_come_back(
    s3_server: S3Server,
    sample_factory: SampleFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="cvops")
    # The exporter gets endpoint and credentials explicitly; the environment has none of them.
    explicit = RemoteSettings(
        f"s3://{s3_server.bucket}/datasets",
        endpoint_url=s3_server.endpoint_url,
        region="us-east-1",
        access_key_id="cvops-test-key",
        secret_access_key=S3_SECRET,
    )
    assert S3_SECRET not in repr(explicit)
    with monkeypatch.context() as env:
        for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            env.delenv(name)
        repo = DatasetRepo(tmp_path / "dataset-repo", explicit)
        samples, labels = sample_factory.frames({"m1": [1, 2, 3], "m2": [4]}, val=["m2"])
        result = export_dataset(repo, samples, labels, **EXPORT_ARGS)

    assert result.version.pushed, result.push_error
    keys = s3_keys(s3_server)
    expected = version_objects(repo, "dataset/v1")
    assert {f"datasets/files/md5/{md5[:2]}/{md5[2:]}" for md5 in expected} == set(keys)

    # A trainer elsewhere: the standard AWS variables (set by the fixture) and the committed remote URL.
    from_env = DatasetRepo(repo.path, RemoteSettings.from_env({"CVOPS_DVC_REMOTE": explicit.url}))
    clone = checkout_version(from_env, 1, tmp_path / "trainer")
    assert verify_files(clone) == 4

    committed_config = (repo.path / ".dvc" / "config").read_text()
    assert f"s3://{s3_server.bucket}/datasets" in committed_config
    assert s3_server.endpoint_url not in committed_config
    for text in (tree_text(repo.path), tree_text(clone), result.report, caplog.text):
        assert S3_SECRET not in text
