"""Register, promote, roll back and reject; the audit log, the cards on disk and the catalog table ``models``."""

from __future__ import annotations

import json
import subprocess
from importlib import metadata
from pathlib import Path

import pandas as pd
import pytest

from cvops.catalog import Catalog, Manifests
from cvops.errors import InputError
from cvops.registry import ModelCard, ModelRegistry, RegistryError, Stage, current_git_commit, open_registry
from tests.registry.conftest import ModelFiles, make_card


def _register(registry: ModelRegistry, model_files: ModelFiles, tag: str, **metrics: float) -> str:
    checkpoint, torchscript = model_files(tag)
    return registry.register(checkpoint, torchscript, make_card(**metrics)).version


def test_register_keeps_files_and_card(registry: ModelRegistry, model_files: ModelFiles, cvops_home: Path) -> None:
    checkpoint, torchscript = model_files("a")
    version = registry.register(checkpoint, torchscript, make_card(ap50=0.61))

    assert version.version == "m0001"
    assert version.stage is Stage.CANDIDATE
    assert registry.checkpoint_path("m0001").read_bytes() == b"checkpoint a"
    assert registry.torchscript_path("m0001").read_bytes() == b"torchscript a"
    assert registry.checkpoint_path("m0001").parent == cvops_home / "models" / "m0001"
    card = json.loads((cvops_home / "models" / "m0001" / "card.json").read_text())
    assert card["version"] == "m0001"
    assert card["dataset_version"] == "ds-0001"
    assert card["metrics"] == {"ap50": 0.61}
    assert card["parity_max_abs_diff"] == 1.5e-6
    assert set(card["files"]) == {"checkpoint.pt", "model.torchscript.pt"}
    markdown = registry.card_markdown("m0001")
    assert markdown.startswith("# Model m0001")
    assert "| ap50 | 0.61 |" in markdown
    assert not any((cvops_home / "models" / ".staging").iterdir())


def test_registering_the_same_files_again_returns_the_existing_version(
    registry: ModelRegistry, model_files: ModelFiles
) -> None:
    first = _register(registry, model_files, "a")
    again = _register(registry, model_files, "a")
    other = _register(registry, model_files, "b")

    assert (first, again, other) == ("m0001", "m0001", "m0002")
    assert [e["action"] for e in registry.audit_log()] == ["register", "register"]


def test_promote_archives_the_previous_production(registry: ModelRegistry, model_files: ModelFiles) -> None:
    for tag in "abc":
        _register(registry, model_files, tag)
    registry.promote("m0001", "first model")
    registry.promote("m0002", "better hota")

    stages = {v.version: v.stage for v in registry.list()}
    assert stages == {"m0001": Stage.ARCHIVED, "m0002": Stage.PRODUCTION, "m0003": Stage.CANDIDATE}
    assert registry.production().version == "m0002"
    last = registry.audit_log()[-1]
    assert (last["action"], last["version"], last["from"], last["to"], last["reason"], last["who"]) == (
        "promote",
        "m0002",
        "candidate",
        "production",
        "better hota",
        "tester",
    )
    assert last["changes"] == [
        {"version": "m0001", "from": "production", "to": "archived"},
        {"version": "m0002", "from": "candidate", "to": "production"},
    ]
    with pytest.raises(RegistryError, match="already in production"):
        registry.promote("m0002", "again")


def test_rollback_restores_the_production_archived_by_the_last_promotion(
    registry: ModelRegistry, model_files: ModelFiles
) -> None:
    for tag in "abc":
        _register(registry, model_files, tag)
    with pytest.raises(RegistryError, match="nothing to roll back to"):
        registry.rollback("no production yet")
    registry.promote("m0001", "first")
    with pytest.raises(RegistryError, match=r"nothing to roll back to.*current production: m0001"):
        registry.rollback("only one production so far")
    registry.promote("m0002", "second")
    registry.promote("m0003", "third")

    assert registry.rollback("m0003 drifts").version == "m0002"
    assert registry.production().version == "m0002"
    assert registry.get("m0003").stage is Stage.ARCHIVED
    assert registry.rollback("m0002 too").version == "m0001"
    with pytest.raises(RegistryError, match="nothing to roll back to"):
        registry.rollback("no further")
    rollbacks = [e for e in registry.audit_log() if e["action"] == "rollback"]
    assert [(e["version"], e["from"], e["to"]) for e in rollbacks] == [
        ("m0002", "archived", "production"),
        ("m0001", "archived", "production"),
    ]


def test_reject_and_set_stage(registry: ModelRegistry, model_files: ModelFiles) -> None:
    for tag in "ab":
        _register(registry, model_files, tag)
    registry.reject("m0002", "hota 0.31 < production 0.40")
    assert registry.get("m0002").stage is Stage.CANDIDATE
    entry = registry.audit_log()[-1]
    assert (entry["action"], entry["reason"], entry["from"], entry["to"]) == (
        "reject",
        "hota 0.31 < production 0.40",
        "candidate",
        "candidate",
    )

    registry.set_stage("m0002", "archived", "superseded")
    with pytest.raises(RegistryError, match="only a candidate can be rejected"):
        registry.reject("m0002", "too late")
    registry.set_stage("m0001", Stage.PRODUCTION, "by hand")
    assert registry.production().version == "m0001"
    assert registry.audit_log()[-1]["action"] == "promote"
    with pytest.raises(RegistryError, match="unknown model version 'm0009'"):
        registry.promote("m0009", "typo")
    with pytest.raises(RegistryError, match="not a model version id"):
        registry.get("latest")


def test_every_change_rewrites_the_catalog_table(
    registry: ModelRegistry, model_files: ModelFiles, manifests: Manifests, cvops_home: Path
) -> None:
    _register(registry, model_files, "a", hota=0.4)
    _register(registry, model_files, "b", hota=0.5)
    registry.promote("m0002", "better")

    catalog = Catalog(cvops_home / "catalog.duckdb", manifests)
    rows = catalog.query("SELECT model_version, dataset_version, stage, metrics FROM models ORDER BY 1")
    assert rows.to_dict("records") == [
        {"model_version": "m0001", "dataset_version": "ds-0001", "stage": "candidate", "metrics": '{"hota": 0.4}'},
        {"model_version": "m0002", "dataset_version": "ds-0001", "stage": "production", "metrics": '{"hota": 0.5}'},
    ]
    created = catalog.query("SELECT created_at FROM models LIMIT 1").iloc[0, 0]
    assert created == pd.Timestamp("2026-03-01T12:00:00Z")


def test_registry_without_catalog_and_missing_inputs(cvops_home: Path, model_files: ModelFiles) -> None:
    registry = open_registry(cvops_home / "models", manifests=None)
    checkpoint, torchscript = model_files("a")
    registry.register(checkpoint, torchscript, make_card())
    assert not (cvops_home / "manifests").exists()
    with pytest.raises(InputError, match=r"nope\.pt.*field 'checkpoint'"):
        registry.register(checkpoint.with_name("nope.pt"), torchscript, make_card())


def test_card_validation_names_the_field() -> None:
    with pytest.raises(InputError, match=r"field 'metrics'.*'hota' must be a finite number"):
        make_card(hota=float("nan"))
    with pytest.raises(InputError, match="field 'dataset_version'"):
        make_card(dataset_version=" ")


def test_card_create_stamps_commit_and_versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the commit is the code's, not the working directory's
    card = ModelCard.create(
        dataset_version="ds-0003", config={"lr": 0.01}, metrics={"ap50": 1}, parity_max_abs_diff=0, device="cpu"
    )
    repo = Path(__file__).resolve().parents[2]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=False)
    assert card.code_commit == (head.stdout.strip() if head.returncode == 0 else "unknown")
    assert card.torch_version == metadata.version("torch")
    assert card.metrics == {"ap50": 1.0}
    assert card.created_at.tzinfo is not None
    assert ModelCard.from_dict(card.to_dict()) == card
    assert current_git_commit(tmp_path) == "unknown"
