"""Fixtures for registry tests: a local registry writing the catalog of a fresh CVOPS_HOME, and fake model files.

The registry treats checkpoints and TorchScript files as opaque bytes, so the tests use small byte strings.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cvops.catalog import Manifests
from cvops.registry import LocalStorage, ModelCard, ModelRegistry

ModelFiles = Callable[[str], tuple[Path, Path]]


def make_card(dataset_version: str = "ds-0001", **metrics: float) -> ModelCard:
    return ModelCard(
        dataset_version=dataset_version,
        config={"epochs": 3, "lr": 0.001},
        metrics=metrics or {"ap50": 0.5, "hota": 0.4},
        parity_max_abs_diff=1.5e-6,
        device="cpu",
        torch_version="2.13.0",
        code_commit="0123abcd",
        created_at=datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
    )


@pytest.fixture
def model_files(tmp_path: Path) -> ModelFiles:
    """Write a distinct fake checkpoint and TorchScript file for ``tag``."""

    def make(tag: str) -> tuple[Path, Path]:
        folder = tmp_path / "trained" / tag
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "model.pt").write_bytes(f"checkpoint {tag}".encode())
        (folder / "model.ts").write_bytes(f"torchscript {tag}".encode())
        return folder / "model.pt", folder / "model.ts"

    return make


@pytest.fixture
def manifests(cvops_home: Path) -> Manifests:
    return Manifests(cvops_home / "manifests")


@pytest.fixture
def registry(cvops_home: Path, manifests: Manifests) -> ModelRegistry:
    return ModelRegistry(LocalStorage(cvops_home / "models"), manifests, actor="tester")


@pytest.fixture
def s3_bucket(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh bucket; the AWS variables point at the moto server, as a user's shell would."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "cvops-registry-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "cvops-registry-test-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    bucket = f"registry-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    yield bucket
