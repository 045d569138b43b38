"""The same registry on S3 (moto's server on 127.0.0.1): conditional writes instead of a lock."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from cvops.catalog import Manifests
from cvops.registry import ModelRegistry, Stage, open_registry
from cvops.registry.state import AuditEntry
from tests.registry.conftest import ModelFiles, make_card


def test_lifecycle_on_s3(s3_bucket: str, model_files: ModelFiles, cvops_home: Path, manifests: Manifests) -> None:
    registry = open_registry(f"s3://{s3_bucket}/team/models", manifests, cache_dir=cvops_home / "cache")
    for tag in "ab":
        registry.register(*model_files(tag), make_card())
    registry.promote("m0001", "first")
    registry.promote("m0002", "second")
    assert registry.rollback("regression").version == "m0001"

    fresh = open_registry(f"s3://{s3_bucket}/team/models/", cache_dir=cvops_home / "other-cache")
    assert {v.version: v.stage for v in fresh.list()} == {"m0001": Stage.PRODUCTION, "m0002": Stage.ARCHIVED}
    path = fresh.torchscript_path("m0002")
    assert path.read_bytes() == b"torchscript b"
    assert path.is_relative_to(cvops_home / "other-cache")
    assert fresh.card_markdown("m0002").startswith("# Model m0002")
    assert [e["action"] for e in fresh.audit_log()] == ["register", "register", "promote", "promote", "rollback"]
    assert set(manifests.read("models")["stage"]) == {"production", "archived"}

    keys = {o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=s3_bucket)["Contents"]}
    assert "team/models/index.json" in keys
    assert "team/models/audit/00000005.json" in keys


def test_a_damaged_cached_file_is_downloaded_again(s3_bucket: str, model_files: ModelFiles, tmp_path: Path) -> None:
    registry = open_registry(f"s3://{s3_bucket}/models", cache_dir=tmp_path / "cache")
    registry.register(*model_files("a"), make_card())
    cached = registry.checkpoint_path("m0001")
    cached.write_bytes(b"bit rot")
    assert registry.checkpoint_path("m0001").read_bytes() == b"checkpoint a"


def test_a_writer_that_loses_the_race_decides_again(
    s3_bucket: str, model_files: ModelFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = f"s3://{s3_bucket}/models"
    alice = open_registry(root, actor="alice", cache_dir=tmp_path / "a")
    bob = open_registry(root, actor="bob", cache_dir=tmp_path / "b")
    for tag in "ab":
        alice.register(*model_files(tag), make_card())

    real_append = alice.storage.append_audit
    raced: list[bool] = []

    def bob_gets_there_first(entry: AuditEntry) -> bool:
        if not raced:
            raced.append(True)
            bob.promote("m0002", "bob was faster")
        return real_append(entry)

    monkeypatch.setattr(alice.storage, "append_audit", bob_gets_there_first)
    alice.promote("m0001", "alice decided on an older state")

    log = ModelRegistry(bob.storage).audit_log()
    assert [(e["who"], e["action"], e["version"]) for e in log[2:]] == [
        ("bob", "promote", "m0002"),
        ("alice", "promote", "m0001"),
    ]
    assert log[-1]["changes"][0] == {"version": "m0002", "from": "production", "to": "archived"}
    assert bob.production().version == "m0001"
