"""Sync offset estimation on hand-built scenes."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from cleaning_scenes import VIDEO, build_scene, detections

from cvops.cleaning import SyncConfig, estimate_offset, prepare_labels


def labels_of(scene) -> pd.DataFrame:
    return prepare_labels(scene.labels, "m1")[0]


@pytest.mark.parametrize("shift", [-5, -3, -1, 1, 2, 4])
def test_the_true_shift_is_found_and_applied(shift):
    scene = build_scene(seed=3)
    estimate = estimate_offset(labels_of(scene), detections(scene, shift=shift), VIDEO)
    assert estimate.applied
    assert estimate.offset == estimate.best_offset == shift
    assert estimate.score > estimate.score_at_zero
    assert estimate.scores[shift] == estimate.score


def test_an_aligned_match_keeps_offset_zero():
    scene = build_scene(seed=4)
    estimate = estimate_offset(labels_of(scene), detections(scene), VIDEO)
    assert (estimate.offset, estimate.best_offset, estimate.applied) == (0, 0, False)
    assert estimate.score == estimate.score_at_zero
    assert "offset 0 fits best" in estimate.message


def test_the_refined_offset_is_close_to_the_true_shift():
    scene = build_scene(seed=5)
    estimate = estimate_offset(labels_of(scene), detections(scene, shift=-2), VIDEO)
    assert abs(estimate.refined_offset - (-2)) < 0.1
    assert estimate.z > SyncConfig().min_z
    in_sync = estimate_offset(labels_of(scene), detections(scene), VIDEO)
    assert abs(in_sync.refined_offset) < 0.1 and in_sync.z < 0


def test_a_shift_that_is_not_clear_enough_is_reported_but_not_applied():
    scene = build_scene(seed=5)
    labels, preds = labels_of(scene), detections(scene, shift=1)
    for config in (SyncConfig(min_abs_offset=1.5), SyncConfig(min_z=1e6)):
        estimate = estimate_offset(labels, preds, VIDEO, config)
        assert estimate.best_offset == 1
        assert not estimate.applied and estimate.offset == 0
        assert "not clearly" in estimate.message


def test_a_shift_of_half_a_frame_is_not_rounded_either_way():
    # Video frame f shows label frame f + 0.5 (offset -0.5): neither 0 nor -1 is right, so nothing is applied.
    scene = build_scene(seed=9)
    labels = labels_of(scene)
    ahead = labels.copy()
    moved = ahead.groupby("track_id")[["x", "y"]].shift(-1)
    ahead[["x", "y"]] = ((ahead[["x", "y"]] + moved) / 2).fillna(ahead[["x", "y"]])
    preds = ahead[["frame", "x", "y", "w", "h"]].assign(conf=1.0)
    estimate = estimate_offset(labels, preds, VIDEO)
    assert abs(estimate.refined_offset + 0.5) < 0.1
    assert not estimate.applied


def test_players_standing_still_give_no_reason_to_shift():
    scene = build_scene(seed=6)
    labels = labels_of(scene)
    still = labels.groupby("track_id")[["x", "y", "w", "h"]].transform("first")
    labels = labels.assign(**{c: still[c] for c in ["x", "y", "w", "h"]})
    preds = labels[["frame", "x", "y", "w", "h"]].assign(frame=labels["frame"] + 3, conf=1.0)
    estimate = estimate_offset(labels, preds[preds["frame"] <= VIDEO.n_frames], VIDEO)
    assert estimate.offset == 0 and not estimate.applied


def test_without_predictions_or_overlap_nothing_is_estimated():
    scene = build_scene(seed=7)
    empty = detections(scene).iloc[:0]
    estimate = estimate_offset(labels_of(scene), empty, VIDEO)
    assert estimate.offset == 0 and not estimate.applied and math.isnan(estimate.score)
    assert "no predictions" in estimate.message
    labels = labels_of(scene)
    far = detections(scene).assign(frame=lambda d: d["frame"] % 5 + 1)  # only frames 1..5 predicted
    estimate = estimate_offset(labels[labels["frame"] > 100], far, VIDEO)
    assert math.isnan(estimate.score_at_zero)
    assert "do not overlap" in estimate.message


def test_only_the_sampled_frames_are_scored():
    scene = build_scene(seed=8)
    estimate = estimate_offset(labels_of(scene), detections(scene, shift=1), VIDEO, SyncConfig(sample_frames=40))
    assert estimate.n_frames_used == 40
    assert estimate.offset == 1
