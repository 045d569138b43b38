"""One-to-one per-frame assignment and occlusion cover."""

from __future__ import annotations

import numpy as np

from cvops.cleaning import assign_per_frame, max_cover_by_others


def arr(*boxes):
    return np.array(boxes, dtype=np.float64).reshape(-1, 4)


def test_a_prediction_confirms_only_one_of_two_overlapping_labels_the_better_one():
    labels = arr([0, 0, 10, 20], [2, 0, 10, 20])
    result = assign_per_frame(np.array([1, 1]), labels, np.array([1]), arr([2, 0, 10, 20]), min_iou=0.3)
    assert result.prediction.tolist() == [-1, 0]
    assert result.iou[1] == 1.0 and result.iou[0] == 0.0
    assert result.matched.tolist() == [False, True]


def test_assignment_maximises_the_total_overlap():
    # Greedy would give label 0 the prediction it overlaps best (pred 0) and leave label 1 unmatched.
    labels = arr([0, 0, 10, 10], [4, 0, 10, 10])
    preds = arr([2, 0, 10, 10], [-4, 0, 10, 10])
    result = assign_per_frame(np.array([5, 5]), labels, np.array([5, 5]), preds, min_iou=0.1)
    assert result.prediction.tolist() == [1, 0]


def test_pairs_below_min_iou_and_pairs_on_other_frames_are_never_matched():
    labels = arr([0, 0, 10, 10], [100, 100, 10, 10])
    preds = arr([8, 8, 10, 10], [100, 100, 10, 10])
    result = assign_per_frame(np.array([1, 1]), labels, np.array([1, 2]), preds, min_iou=0.3)
    assert result.prediction.tolist() == [-1, -1]


def test_unsorted_frames_are_handled_and_empty_inputs_give_no_match():
    labels = arr([0, 0, 10, 10], [50, 0, 10, 10], [0, 0, 10, 10])
    preds = arr([50, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10])
    result = assign_per_frame(np.array([3, 1, 1]), labels, np.array([1, 3, 1]), preds, min_iou=0.5)
    assert result.prediction.tolist() == [1, 0, 2]
    empty = assign_per_frame(np.array([1]), arr([0, 0, 1, 1]), np.zeros(0, np.int64), arr(), min_iou=0.5)
    assert empty.prediction.tolist() == [-1]


def test_cover_by_others_measures_the_share_of_own_area_under_another_box():
    boxes = arr([0, 0, 10, 10], [5, 0, 10, 10], [0, 0, 20, 20], [100, 100, 10, 10])
    cover = max_cover_by_others(np.array([1, 1, 2, 2]), boxes)
    assert cover.tolist() == [0.5, 0.5, 0.0, 0.0]
    inside = max_cover_by_others(np.array([1, 1]), arr([0, 0, 20, 20], [5, 5, 5, 5]))
    assert inside.tolist() == [0.0625, 1.0]
