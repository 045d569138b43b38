"""Writers in parallel processes, and writers that die half-way: the registry stays consistent."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path

import pytest

from cvops.catalog import Manifests
from cvops.registry import IncompleteChangeError, LocalStorage, ModelRegistry, Stage
from tests.registry.conftest import ModelFiles, make_card


def _register_and_promote(root: str, manifests_root: str, checkpoint: str, torchscript: str, who: str) -> str:
    registry = ModelRegistry(LocalStorage(root), Manifests(manifests_root), actor=who)
    version = registry.register(Path(checkpoint), Path(torchscript), make_card()).version
    registry.promote(version, f"promoted by {who}")
    return version


def test_parallel_writers_are_serialised(cvops_home: Path, model_files: ModelFiles) -> None:
    root, manifests_root = cvops_home / "models", cvops_home / "manifests"
    jobs = [(str(root), str(manifests_root), *map(str, model_files(f"w{i}")), f"writer{i}") for i in range(4)]
    with multiprocessing.get_context("fork").Pool(4) as pool:
        versions = pool.starmap(_register_and_promote, jobs)

    registry = ModelRegistry(LocalStorage(root), Manifests(manifests_root))
    assert sorted(versions) == ["m0001", "m0002", "m0003", "m0004"]
    audit = registry.audit_log()
    assert [e["seq"] for e in audit] == list(range(1, 9))
    assert sum(v.stage is Stage.PRODUCTION for v in registry.list()) == 1
    assert registry.production().version == audit[-1]["version"]
    assert json.loads((root / "index.json").read_text())["audit_seq"] == 8
    assert set(Manifests(manifests_root).read("models")["stage"]) == {"production", "archived"}


def test_a_change_whose_index_write_failed_is_not_lost(
    registry: ModelRegistry, model_files: ModelFiles, monkeypatch: pytest.MonkeyPatch, cvops_home: Path
) -> None:
    for tag in "ab":
        registry.register(*model_files(tag), make_card())
    registry.promote("m0001", "first")

    def disk_full(state: object) -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr(registry.storage, "write_index", disk_full)
    with pytest.raises(IncompleteChangeError, match="promote of m0002 is recorded in the audit log"):
        registry.promote("m0002", "second")
    monkeypatch.undo()

    assert json.loads((cvops_home / "models" / "index.json").read_text())["audit_seq"] == 3
    fresh = ModelRegistry(LocalStorage(cvops_home / "models"))
    assert fresh.production().version == "m0002"
    assert fresh.rollback("the lost promotion still counts").version == "m0001"
    assert json.loads((cvops_home / "models" / "index.json").read_text())["audit_seq"] == 5


def test_an_audit_line_cut_short_is_ignored_then_replaced(
    registry: ModelRegistry, model_files: ModelFiles, cvops_home: Path
) -> None:
    registry.register(*model_files("a"), make_card())
    audit_file = cvops_home / "models" / "audit.jsonl"
    with open(audit_file, "ab") as handle:
        handle.write(b'{"seq": 2, "at": "2026-')

    assert [e["seq"] for e in registry.audit_log()] == [1]
    registry.promote("m0001", "after a crash")
    lines = audit_file.read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [1, 2]


def test_a_version_folder_left_by_a_dead_writer_is_not_reused(
    registry: ModelRegistry, model_files: ModelFiles, cvops_home: Path
) -> None:
    (cvops_home / "models" / "m0001").mkdir(parents=True)
    assert registry.register(*model_files("a"), make_card()).version == "m0002"


def test_staged_files_of_a_dead_registration_are_swept(
    registry: ModelRegistry, model_files: ModelFiles, cvops_home: Path
) -> None:
    stale = cvops_home / "models" / ".staging" / "dead-writer"
    stale.mkdir(parents=True)
    (stale / "checkpoint.pt").write_bytes(b"half a copy")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(stale, (two_days_ago, two_days_ago))
    registry.register(*model_files("a"), make_card())
    assert not stale.exists()
