"""The release gate: a model that did not finish its training, or learnt nothing, never reaches the registry."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from cvops.catalog import Manifests
from cvops.model.checkpoint import load_checkpoint
from cvops.model.release import NotReleasableError, ReleaseConfig, register_candidate, release_problems
from cvops.model.toy_data import write_toy_dataset
from cvops.model.train import train
from cvops.registry import LocalStorage, ModelRegistry
from tests.model.test_model_train import TINY


@pytest.fixture(scope="module")
def toy_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_toy_dataset(tmp_path_factory.mktemp("toy") / "ds", frames_per_match=8, n_players=4)


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(LocalStorage(tmp_path / "models"), Manifests(tmp_path / "manifests"), actor="tester")


def test_a_dead_model_cannot_be_registered(toy_root: Path, registry: ModelRegistry) -> None:
    # The failure the issue measured: a busy machine, the safety limit hit before the first epoch ended.
    dead = train(toy_root, replace(TINY, epochs=20, max_minutes=1e-6), log=lambda _: None)
    assert dead.epochs_completed == 0 and dead.stopped_by_time_budget
    with pytest.raises(NotReleasableError) as refused:
        register_candidate(dead, registry, dataset_version="dataset/v1")
    message = str(refused.value)
    assert "completed 0 of 20 required epochs (stopped by the 1e-06-minute safety limit)" in message
    assert "player AP50" in message and "images/s" in message
    assert registry.list() == [] and registry.audit_log() == []
    assert not (registry.storage.root / "m0001").exists()


def test_a_model_below_the_ap50_floor_is_not_registered(toy_root: Path, registry: ModelRegistry) -> None:
    result = train(toy_root, replace(TINY, epochs=1), log=lambda _: None)
    ap50 = result.val_metrics["player_ap50"]
    gate = ReleaseConfig(min_player_ap50=min(1.0, ap50 + 0.01))
    with pytest.raises(NotReleasableError, match=f"player AP50 {ap50:.3f} is below the floor"):
        register_candidate(result, registry, dataset_version="dataset/v1", gate=gate)
    assert registry.list() == []
    no_val = train(toy_root, replace(TINY, epochs=1, evaluate_split=None), log=lambda _: None)
    assert release_problems(no_val, ReleaseConfig()) == [
        "it has no validation player AP50 (no val split to evaluate on)"
    ]
    assert release_problems(no_val, ReleaseConfig(min_player_ap50=0.0)) == []
    assert release_problems(result, ReleaseConfig(min_epochs=2, min_player_ap50=0.0)) == [
        "it completed 1 of 2 required epochs"
    ]


def test_a_finished_model_is_registered_with_its_parent_and_lineage(toy_root: Path, registry: ModelRegistry) -> None:
    gate = ReleaseConfig(min_player_ap50=0.0)
    first = train(toy_root, replace(TINY, epochs=2), log=lambda _: None)
    m1 = register_candidate(first, registry, dataset_version="dataset/v1", gate=gate)
    registry.promote(m1.version, "first model")
    parent = load_checkpoint(registry.checkpoint_path(m1.version))
    second = train(toy_root, replace(TINY, epochs=1), parent=parent, log=lambda _: None)
    with pytest.raises(Exception, match="parent_model must name"):
        register_candidate(second, registry, dataset_version="dataset/v2", gate=gate)
    m2 = register_candidate(second, registry, dataset_version="dataset/v2", gate=gate, parent_model=m1.version)
    assert (m1.card.parent_model, m2.card.parent_model) == (None, "m0001")
    assert m2.card.extra["training"]["warm_start"] == {"identities_kept": len(second.identity_map), "identities_new": 0}
    assert m2.card.extra["training"]["epochs_completed"] == 1
    assert [v.version for v in registry.lineage("m0002")] == ["m0002", "m0001"]
    assert "| parent model | `m0001` (warm start) |" in registry.card_markdown("m0002")
    assert "| parent model | none (from scratch) |" in registry.card_markdown("m0001")
    table = registry.manifests.read("models")
    assert table["parent_model"].tolist()[1] == "m0001" and table["parent_model"].isna().tolist()[0]
