"""Warm start: a retrained model starts from its parent's weights and keeps the identities both datasets share."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from cvops.errors import InputError
from cvops.model.checkpoint import load_checkpoint
from cvops.model.toy_data import write_toy_dataset
from cvops.model.train import TrainConfig, train
from tests.model.test_model_train import TINY


@pytest.fixture(scope="module")
def parent(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("parent")
    root = write_toy_dataset(folder / "ds", frames_per_match=8, n_players=4)
    result = train(root, replace(TINY, epochs=4), log=lambda _: None)
    return root, load_checkpoint(result.save(folder / "parent.pt")), result


def test_a_warm_start_begins_where_the_parent_ended(parent) -> None:
    root, checkpoint, parent_result = parent
    first_epoch = replace(TINY, epochs=1, evaluate_split=None)
    warm = train(root, first_epoch, parent=checkpoint, log=lambda _: None)
    scratch = train(root, replace(first_epoch, start_from="scratch"), log=lambda _: None)
    assert warm.warm_start is not None and scratch.warm_start is None
    assert warm.warm_start.identities_kept == len(parent_result.identity_map)
    assert warm.warm_start.identities_new == 0
    # One epoch from the parent's weights is far closer to the parent's last epoch than one from scratch.
    assert warm.loss_history[0]["heatmap"] < 0.8 * scratch.loss_history[0]["heatmap"]
    assert warm.metrics()["warm_start"] == {"identities_kept": len(warm.identity_map), "identities_new": 0}


def test_the_parent_weights_are_loaded_exactly(parent, tmp_path: Path) -> None:
    root, checkpoint, _ = parent
    copy = train(
        root,
        replace(TINY, epochs=1, lr=1e-12, warmup_steps=1, evaluate_split=None),
        parent=checkpoint,
        log=lambda _: None,
    )
    for name, tensor in checkpoint.model.state_dict().items():
        if tensor.is_floating_point() and "running" not in name:
            torch.testing.assert_close(copy.model.state_dict()[name], tensor, atol=1e-6, rtol=0)


def test_new_identities_get_fresh_classifier_rows(parent, tmp_path: Path) -> None:
    _, checkpoint, _ = parent
    bigger = write_toy_dataset(tmp_path / "bigger", train_matches=3, frames_per_match=8, n_players=4)
    result = train(bigger, replace(TINY, epochs=1, evaluate_split=None), parent=checkpoint, log=lambda _: None)
    shared = set(result.identity_map.keys) & set(checkpoint.identity_map.keys)
    assert result.warm_start is not None and 0 < len(shared) < len(result.identity_map)
    assert result.warm_start.identities_kept == len(shared)
    assert result.warm_start.identities_new == len(result.identity_map) - len(shared)


def test_a_changed_architecture_cannot_warm_start(parent) -> None:
    root, checkpoint, _ = parent
    with pytest.raises(InputError, match="architecture"):
        train(root, replace(TINY, epochs=1, head_channels=8), parent=checkpoint, log=lambda _: None)
    with pytest.raises(InputError, match="scratch"):
        train(root, replace(TINY, start_from="scratch"), parent=checkpoint, log=lambda _: None)


def test_start_from_is_validated() -> None:
    with pytest.raises(ValueError, match="start_from"):
        TrainConfig(start_from="imagenet")
