"""Building blocks of the tracker: box geometry, Kalman filter, gating and thresholded assignment."""

from __future__ import annotations

import numpy as np
import pytest
from trackeval.datasets._base_dataset import _BaseDataset

from cvops.tracking.boxes import iou_xywh, xyah_to_xywh, xywh_to_xyah
from cvops.tracking.kalman import KalmanBoxFilter, chi2_gate
from cvops.tracking.matching import assign, fuse_motion, iou_cost


def test_iou_matches_trackeval_including_degenerate_boxes() -> None:
    rng = np.random.default_rng(3)
    a = rng.uniform(0, 100, size=(40, 4))
    b = rng.uniform(0, 100, size=(30, 4))
    a[0, 2] = 0.0  # zero width: overlaps nothing
    b[:3] = a[:3]
    expected = _BaseDataset._calculate_box_ious(a.copy(), b.copy(), box_format="xywh")
    np.testing.assert_allclose(iou_xywh(a, b), expected, atol=1e-12)
    assert iou_xywh(a, b)[1, 1] == pytest.approx(1.0)
    assert iou_xywh(a, b)[0, 0] == 0.0


def test_iou_by_hand_and_empty_inputs() -> None:
    # 20x40 boxes shifted by 2 px: intersection 18*40 = 720, union 800 + 800 - 720 = 880.
    assert iou_xywh([[0, 0, 20, 40]], [[2, 0, 20, 40]])[0, 0] == pytest.approx(720 / 880)
    assert iou_xywh(np.zeros((0, 4)), [[0, 0, 1, 1]]).shape == (0, 1)


def test_box_conversions_round_trip() -> None:
    boxes = np.array([[10.0, 20.0, 30.0, 60.0], [0.0, 0.0, 5.0, 10.0]])
    xyah = xywh_to_xyah(boxes)
    np.testing.assert_allclose(xyah[0], [25.0, 50.0, 0.5, 60.0])
    np.testing.assert_allclose(xyah_to_xywh(xyah), boxes)


def test_kalman_learns_constant_velocity() -> None:
    kalman = KalmanBoxFilter(1 / 20, 1 / 160)
    means, covs = kalman.initiate(np.array([[100.0, 200.0, 0.4, 100.0]]))
    for step in range(1, 30):
        means, covs = kalman.predict(means, covs)
        means, covs = kalman.update(means, covs, np.array([[100.0 + 5 * step, 200.0 - 2 * step, 0.4, 100.0]]))
    mean, cov = means[0], covs[0]
    np.testing.assert_allclose(mean[4:6], [5.0, -2.0], atol=0.05)
    predicted, _ = kalman.predict(mean[None], cov[None])
    np.testing.assert_allclose(predicted[0, :2], [100 + 5 * 30, 200 - 2 * 30], atol=0.5)
    assert np.allclose(cov, cov.T) and np.all(np.linalg.eigvalsh(cov) > 0)


def test_gating_distances_are_batched_mahalanobis() -> None:
    kalman = KalmanBoxFilter(1 / 20, 1 / 160)
    means, covs = kalman.initiate(np.array([[x, 100.0, 0.5, 80.0] for x in (100.0, 400.0)]))
    measurements = np.array([[100.0, 100.0, 0.5, 80.0], [104.0, 100.0, 0.5, 80.0], [400.0, 100.0, 0.5, 80.0]])
    distances = kalman.gating_distances(means, covs, measurements)
    assert distances.shape == (2, 3)
    assert distances[0, 0] == pytest.approx(0.0, abs=1e-9) and distances[1, 2] == pytest.approx(0.0, abs=1e-9)
    # By hand: x std^2 = (2/20*80)^2 + (80/20)^2 = 64 + 16 = 80, so a 4 px offset gives 16/80.
    assert distances[0, 1] == pytest.approx(16 / 80)
    assert distances[0, 2] > chi2_gate(0.95) and distances[1, 0] > chi2_gate(0.95)
    assert chi2_gate(0.95) == pytest.approx(9.4877, abs=1e-4)


def test_assign_drops_pairs_above_the_threshold() -> None:
    cost = np.array([[0.1, 0.9], [0.2, np.inf], [np.inf, np.inf]])
    result = assign(cost, max_cost=0.5)
    assert result.matches.tolist() == [[0, 0]]
    assert result.unmatched_rows.tolist() == [1, 2]
    assert result.unmatched_columns.tolist() == [1]
    empty = assign(np.zeros((0, 3)), 0.5)
    assert empty.matches.shape == (0, 2) and empty.unmatched_columns.tolist() == [0, 1, 2]


def test_assign_is_globally_optimal() -> None:
    # Greedy would take (0, 0) at 0.1 and leave row 1 with 0.45; the optimum is 0.2 + 0.2.
    result = assign(np.array([[0.1, 0.2], [0.2, 0.45]]), max_cost=0.5)
    assert sorted(result.matches.tolist()) == [[0, 1], [1, 0]]


def test_iou_cost_forbids_other_classes() -> None:
    boxes = np.array([[0.0, 0.0, 10.0, 10.0]])
    cost = iou_cost(boxes, np.array([0]), np.vstack([boxes, boxes]), np.array([0, 1]))
    assert cost[0, 0] == pytest.approx(0.0) and np.isinf(cost[0, 1])


def test_fuse_motion_gates_and_mixes() -> None:
    cost = fuse_motion(np.array([[0.1, 0.1]]), np.array([[4.0, 20.0]]), gate=8.0, embedding_weight=0.9)
    assert cost[0, 0] == pytest.approx(0.9 * 0.1 + 0.1 * 0.5)
    assert np.isinf(cost[0, 1])
