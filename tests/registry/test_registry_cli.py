"""``cvops models list|show|promote|rollback|audit`` and the Dagster resource, on a registry in CVOPS_HOME."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cvops.registry import ModelRegistry
from cvops_cli import main
from cvops_resources.registry import ModelRegistryResource
from tests.registry.conftest import ModelFiles, make_card


@pytest.fixture
def populated(registry: ModelRegistry, model_files: ModelFiles) -> ModelRegistry:
    registry.register(*model_files("a"), make_card(hota=0.41, idf1=0.5, mota=0.3, ap50=0.6, deta=0.45))
    registry.register(*model_files("b"), make_card(dataset_version="ds-0002", hota=0.52))
    return registry


def test_list_and_show(populated: ModelRegistry) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["models", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["version", "stage", "dataset", "created", "(UTC)", "metrics"]
    assert lines[2].split()[:5] == ["m0001", "candidate", "ds-0001", "2026-03-01", "12:00"]
    assert "ap50=0.6 deta=0.45 hota=0.41 idf1=0.5 (+1)" in lines[2]
    assert lines[3].split()[:3] == ["m0002", "candidate", "ds-0002"]

    as_json = json.loads(runner.invoke(main, ["models", "list", "--format", "json"]).output)
    assert [v["version"] for v in as_json] == ["m0001", "m0002"]

    shown = runner.invoke(main, ["models", "show", "m0002"])
    assert shown.exit_code == 0
    assert shown.output.startswith("stage: candidate\nlineage: m0002 (ds-0002) <- from scratch\n\n# Model m0002")


def test_promote_rollback_and_clear_errors(populated: ModelRegistry) -> None:
    runner = CliRunner()
    failed = runner.invoke(main, ["models", "rollback"])
    assert failed.exit_code == 1
    assert "Error: nothing to roll back to" in failed.output
    assert "Traceback" not in failed.output

    assert runner.invoke(main, ["models", "promote", "m0001"]).output == "m0001 is now in production\n"
    promoted = runner.invoke(main, ["models", "promote", "m0002", "--reason", "hota +0.11"])
    assert promoted.output == "m0002 is now in production, archived m0001\n"
    rolled = runner.invoke(main, ["models", "rollback", "--reason", "drift on night games"])
    assert rolled.output == "rolled back: m0001 is in production again, archived m0002\n"
    assert "production" in runner.invoke(main, ["models", "list", "--stage", "production"]).output

    unknown = runner.invoke(main, ["models", "promote", "m0007"])
    assert unknown.exit_code == 1
    assert "unknown model version 'm0007' (registered: m0001, m0002)" in unknown.output

    audit = runner.invoke(main, ["models", "audit", "--limit", "2"]).output.splitlines()
    assert len(audit) == 4
    assert audit[-1].split()[3:7] == ["rollback", "m0001", "archived", "production"]
    assert audit[-1].endswith("drift on night games")


def test_root_option_and_environment(tmp_path: Path, cvops_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    elsewhere = tmp_path / "other-registry"
    assert runner.invoke(main, ["models", "--root", str(elsewhere), "list"]).output == "no model versions\n"
    monkeypatch.setenv("CVOPS_MODEL_REGISTRY", str(elsewhere))
    assert (
        runner.invoke(main, ["models", "list", "--stage", "archived"]).output == "no model versions in stage archived\n"
    )


def test_resource_defaults_to_cvops_home(cvops_home: Path, model_files: ModelFiles, tmp_path: Path) -> None:
    registry = ModelRegistryResource().get_registry(actor="dagster run 1234", with_catalog=True)
    version = registry.register(*model_files("a"), make_card())
    assert registry.checkpoint_path(version.version).parent == cvops_home / "models" / "m0001"
    assert registry.audit_log()[0]["who"] == "dagster run 1234"
    assert (cvops_home / "manifests" / "models" / "data.parquet").exists()

    other_home = tmp_path / "other-home"
    configured = ModelRegistryResource(home=str(other_home)).get_registry()
    assert configured.list() == []
    configured.register(*model_files("b"), make_card())
    assert (other_home / "models" / "m0001").is_dir()
    assert not (other_home / "manifests").exists()
