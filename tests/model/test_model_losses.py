"""Focal, regression and identity losses on tiny hand-made tensors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cvops.model.losses import FairMOTLoss, focal_loss, masked_l1
from cvops.model.network import gather_cells
from cvops.model.targets import build_targets, collate_targets


def _logit(p: torch.Tensor) -> torch.Tensor:
    p = p.clamp(1e-6, 1 - 1e-6)
    return torch.log(p / (1 - p))


def _target_heatmap() -> torch.Tensor:
    boxes = np.array([[8, 8, 8, 16], [40, 20, 12, 24]], np.float32)
    targets = build_targets(boxes, np.array([0, 2]), np.array([0, 1]), (64, 64), 4)
    return torch.from_numpy(targets.heatmap)[None]


@pytest.mark.parametrize("per_class", [False, True])
def test_focal_loss_is_about_zero_for_a_perfect_prediction(per_class: bool) -> None:
    target = _target_heatmap()
    perfect = focal_loss(_logit(target), target, per_class=per_class)
    uniform = focal_loss(torch.zeros_like(target), target, per_class=per_class)
    assert float(perfect) < 0.02
    assert float(uniform) > 100 * float(perfect)


def test_per_class_normalisation_weighs_a_rare_class_like_a_common_one() -> None:
    """Ten players and one ball, all missed: per class, the ball's miss counts as much as all the players'."""
    boxes = np.array([[4 + 6 * i, 8, 4, 8] for i in range(10)] + [[40, 40, 4, 4]], np.float32)
    classes = np.array([0] * 10 + [3])
    target = torch.from_numpy(build_targets(boxes, classes, np.zeros(11), (64, 64), 4).heatmap)[None]
    missed = torch.full_like(target, -6.0)
    ball_only = missed.clone()
    ball_only[:, :3] = _logit(target[:, :3])  # everything right except the ball
    pooled_share = float(focal_loss(ball_only, target)) / float(focal_loss(missed, target))
    per_class_share = float(focal_loss(ball_only, target, per_class=True)) / float(
        focal_loss(missed, target, per_class=True)
    )
    assert pooled_share < 0.15
    assert per_class_share > 0.45


def test_focal_loss_punishes_a_missing_peak() -> None:
    target = _target_heatmap()
    missing = _logit(target).clone()
    peak = target.eq(1)
    missing[peak] = -10.0
    assert float(focal_loss(missing, target)) > 5.0


def test_focal_loss_without_objects_only_penalises_confidence() -> None:
    target = torch.zeros(1, 4, 8, 8)
    assert float(focal_loss(torch.full_like(target, -9.0), target)) < 1e-3
    assert float(focal_loss(torch.full_like(target, 2.0), target)) > 1.0


def test_gather_and_masked_l1_ignore_padding() -> None:
    feature = torch.arange(2 * 3 * 4, dtype=torch.float32).reshape(1, 2, 3, 4)
    gathered = gather_cells(feature, torch.tensor([[0, 5, 11]]))
    assert gathered.tolist() == [[[0.0, 12.0], [5.0, 17.0], [11.0, 23.0]]]
    target = gathered.clone()
    target[0, 2] += 100.0  # a padded slot: ignored
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    assert float(masked_l1(gathered, target, mask)) < 1e-6


def test_fairmot_loss_components_and_identity_learning() -> None:
    torch.manual_seed(0)
    boxes = np.array([[8, 8, 8, 16], [40, 20, 12, 24]], np.float32)
    sample = build_targets(boxes, np.array([0, 2]), np.array([0, 1]), (64, 64), 4)
    targets = collate_targets([sample])
    loss = FairMOTLoss(num_identities=2, embedding_dim=8)
    embeddings = torch.randn(1, 2, 8, requires_grad=True)
    outputs = {"heatmap": _logit(targets.heatmap), "box": torch.zeros(1, 4, 16, 16)}
    total, stats = loss(outputs, embeddings, targets)
    assert set(stats) == {"total", "heatmap", "size", "offset", "identity"}
    assert stats["heatmap"] < 0.05
    expected_size = float(np.abs(sample.size).mean())
    assert abs(stats["size"] - expected_size) < 1e-3
    # The identity loss trains: a few steps of SGD on the embedding and classifier lower it.
    optimizer = torch.optim.SGD([embeddings, *loss.parameters()], lr=0.5)
    first = stats["identity"]
    for _ in range(20):
        total, stats = loss(outputs, embeddings, targets)
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
    assert stats["identity"] < first


def test_unknown_identities_are_ignored() -> None:
    sample = build_targets(np.array([[8, 8, 8, 16]], np.float32), np.array([0]), np.array([-1]), (64, 64), 4)
    targets = collate_targets([sample])
    loss = FairMOTLoss(num_identities=3, embedding_dim=8)
    outputs = {"heatmap": _logit(targets.heatmap), "box": torch.zeros(1, 4, 16, 16)}
    _, stats = loss(outputs, torch.randn(1, 1, 8), targets)
    assert stats["identity"] == 0.0
