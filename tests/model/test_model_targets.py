"""Targets put class peaks at object centres and regress size/offset there."""

from __future__ import annotations

import numpy as np

from cvops.model.targets import build_targets, collate_targets, gaussian_radius


def test_peaks_sit_at_object_centres_in_their_class_channel() -> None:
    boxes = np.array([[10, 6, 8, 16], [30, 40, 6, 6]], np.float32)  # centres (14, 14) and (33, 43)
    targets = build_targets(boxes, np.array([0, 3]), np.array([5, 7]), (64, 64), num_classes=4)
    assert targets.heatmap.shape == (4, 16, 16)
    assert targets.heatmap[0, 3, 3] == 1.0  # 14 / 4 = 3.5 -> cell 3
    assert targets.heatmap[3, 10, 8] == 1.0  # (33, 43) / 4 = (8.25, 10.75)
    assert targets.heatmap.max(axis=(1, 2)).tolist() == [1.0, 0.0, 0.0, 1.0]
    assert (targets.heatmap == 1.0).sum() == 2
    assert targets.index.tolist() == [3 * 16 + 3, 10 * 16 + 8]
    np.testing.assert_allclose(targets.size, [[2, 4], [1.5, 1.5]])
    np.testing.assert_allclose(targets.offset, [[0.5, 0.5], [0.25, 0.75]])
    assert targets.identity.tolist() == [5, 7]


def test_gaussian_decays_away_from_the_peak() -> None:
    targets = build_targets(np.array([[16, 16, 32, 32]], np.float32), np.array([1]), np.array([0]), (64, 64), 4)
    heat = targets.heatmap[1]
    assert heat[8, 8] == 1.0
    assert 0 < heat[8, 9] < 1.0
    assert heat[8, 10] < heat[8, 9]
    assert heat[8, 12] == 0.0
    assert heat[0, 0] == 0.0


def test_gaussian_radius_grows_with_the_box() -> None:
    assert gaussian_radius(2, 1) < gaussian_radius(8, 4) < gaussian_radius(32, 16)


def test_objects_at_the_border_stay_inside_the_grid() -> None:
    targets = build_targets(np.array([[60, 60, 4, 4]], np.float32), np.array([0]), np.array([0]), (64, 64), 4)
    assert targets.index.tolist() == [15 * 16 + 15]


def test_collate_pads_with_a_mask() -> None:
    one = build_targets(np.array([[8, 8, 4, 4]], np.float32), np.array([0]), np.array([2]), (32, 32), 4)
    none = build_targets(np.zeros((0, 4), np.float32), np.zeros(0, int), np.zeros(0, int), (32, 32), 4)
    batch = collate_targets([one, none])
    assert batch.heatmap.shape == (2, 4, 8, 8)
    assert batch.mask.tolist() == [[1.0], [0.0]]
    assert batch.identity.tolist() == [[2], [-1]]


def test_tiny_objects_still_soften_their_neighbours() -> None:
    targets = build_targets(np.array([[8, 8, 4, 8]], np.float32), np.array([0]), np.array([0]), (32, 32), 4)
    heat = targets.heatmap[0]
    assert heat[3, 2] == 1.0
    assert 0.0 < heat[3, 3] < 1.0 and 0.0 < heat[2, 2] < 1.0
