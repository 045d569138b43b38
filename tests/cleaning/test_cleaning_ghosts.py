"""Ghost spans: found with predictions, with geometry alone, and not confused with occlusion or missed detections."""

from __future__ import annotations

import numpy as np
import pandas as pd
from cleaning_scenes import VIDEO, build_scene, detections

from cvops.cleaning import GhostConfig, find_ghosts, interpolated_spans, prepare_labels
from cvops.labels import interpolate_keyframes


def removed_rows(labels: pd.DataFrame, report) -> set[tuple[int, int]]:
    rows = labels.iloc[report.removed]
    return set(zip(rows["frame"], rows["track_id"], strict=True))


def keyframes(*rows: tuple[int, int, float, float], role: str = "player") -> pd.DataFrame:
    """(frame, track, centre x, centre y) keyframes with 80 px tall boxes."""
    return pd.DataFrame(
        [(f, t, role, cx - 16, cy - 40, 32.0, 80.0) for f, t, cx, cy in rows],
        columns=["frame", "track_id", "role", "x", "y", "w", "h"],
    )


def test_spans_are_the_rows_strictly_between_consecutive_keyframes():
    labels = prepare_labels(
        interpolate_keyframes(keyframes((1, 7, 100, 100), (5, 7, 200, 100), (6, 7, 210, 100), (3, 8, 50, 50))),
        "m1",
    )[0]
    spans = interpolated_spans(labels)
    assert spans[["track_id", "start_frame", "end_frame"]].values.tolist() == [[7, 1, 5]]
    first, last = spans.loc[0, ["first_row", "last_row"]]
    assert labels.iloc[first : last + 1]["frame"].tolist() == [2, 3, 4]
    assert interpolated_spans(labels.iloc[:0]).empty


def test_a_ghost_is_removed_exactly_with_predictions_and_nothing_else_is():
    scene = build_scene(seed=11)
    labels = prepare_labels(scene.labels, "m1")[0]
    report = find_ghosts(labels, detections(scene), 0, VIDEO)
    assert removed_rows(labels, report) == scene.ghost_rows
    assert report.used_predictions and report.baseline > 0.8
    ghost = report.spans[report.spans["is_ghost"]]
    assert ghost[["track_id", "start_frame", "end_frame", "rule"]].values.tolist() == [
        [1, 100, 250, "unconfirmed_by_predictions"]
    ]


def test_predictions_are_compared_at_the_sync_offset():
    scene = build_scene(seed=12)
    labels = prepare_labels(scene.labels, "m1")[0]
    report = find_ghosts(labels, detections(scene, shift=3), 3, VIDEO)
    assert removed_rows(labels, report) == scene.ghost_rows


def test_a_match_without_ghosts_loses_nothing_even_with_a_weak_detector():
    scene = build_scene(seed=13, ghost=False)
    labels = prepare_labels(scene.labels, "m1")[0]
    report = find_ghosts(labels, detections(scene, recall=0.6, noise=4.0), 0, VIDEO)
    assert len(report.removed) == 0
    assert not report.spans["is_ghost"].any()


def test_a_player_the_detector_never_sees_is_not_judged_by_it():
    # A young production model that has not learned goalkeepers: track 5 is never detected, the others are.
    scene = build_scene(seed=11)
    labels = prepare_labels(scene.labels, "m1")[0]
    truth = scene.truth
    blind = detections(type(scene)(scene.keyframes, truth[truth["track_id"] != 5], scene.ghost_rows))
    report = find_ghosts(labels, blind, 0, VIDEO)
    assert removed_rows(labels, report) == scene.ghost_rows
    unseen = report.spans[report.spans["track_id"] == 5]
    assert (unseen["track_baseline"] == 0.0).all() and not unseen["is_ghost"].any()
    # Judged against the match's rate instead, each of its long spans would have been a ghost.
    lenient = find_ghosts(labels, blind, 0, VIDEO, GhostConfig(min_track_keyframes=10_000))
    assert lenient.spans.query("track_id == 5 and duration_s >= 1.0")["is_ghost"].all()


def test_an_occluded_player_missed_by_the_detector_is_not_a_ghost():
    # Track 2 walks exactly behind track 1 for frames 50..250; the detector only sees track 1 there.
    kf = keyframes(
        (1, 1, 300, 300), (300, 1, 900, 300),
        (1, 2, 600, 500), (50, 2, 400, 300), (250, 2, 800, 300), (300, 2, 900, 500),
    )  # fmt: skip
    labels = prepare_labels(interpolate_keyframes(kf), "m1")[0]
    visible = labels[~((labels["track_id"] == 2) & labels["frame"].between(51, 249))]
    preds = visible[["frame", "x", "y", "w", "h"]].assign(conf=0.9)
    report = find_ghosts(labels, preds, 0, VIDEO)
    assert len(report.removed) == 0
    occluded = report.spans.query("track_id == 2 and start_frame == 50").iloc[0]
    assert not occluded["is_ghost"]


def test_confirmed_frames_next_to_the_keyframes_are_kept():
    scene = build_scene(seed=14)
    labels = prepare_labels(scene.labels, "m1")[0]
    preds = detections(scene, recall=1.0, noise=0.0)
    # The player is still detected on the 5 frames after the exit keyframe and the 3 before the re-entry one.
    still_there = labels[(labels["track_id"] == 1) & labels["frame"].isin([*range(101, 106), *range(247, 250)])]
    preds = pd.concat([preds, still_there[["frame", "x", "y", "w", "h"]].assign(conf=0.9)])
    report = find_ghosts(labels, preds, 0, VIDEO)
    assert removed_rows(labels, report) == {(f, 1) for f in range(106, 247)}
    untrimmed = find_ghosts(labels, preds, 0, VIDEO, GhostConfig(trim_confirmed_ends=False))
    assert removed_rows(labels, untrimmed) == scene.ghost_rows


def test_without_predictions_a_long_border_to_border_span_is_a_ghost():
    scene = build_scene(seed=15)
    labels = prepare_labels(scene.labels, "m1")[0]
    report = find_ghosts(labels, detections(scene).iloc[:0], 0, VIDEO)
    assert removed_rows(labels, report) == scene.ghost_rows
    assert not report.used_predictions
    assert report.spans.loc[report.spans["is_ghost"], "rule"].tolist() == ["slow_border_to_border"]


def test_without_predictions_a_long_still_span_inside_the_image_is_kept():
    kf = keyframes((1, 1, 600, 300), (300, 1, 620, 310), (1, 2, 16, 300), (300, 2, 16, 500))
    labels = prepare_labels(interpolate_keyframes(kf), "m1")[0]
    report = find_ghosts(labels, labels.iloc[:0][["frame", "x", "y", "w", "h"]].assign(conf=1.0), 0, VIDEO)
    verdicts = report.spans.set_index("track_id")["is_ghost"].to_dict()
    assert verdicts == {1: False, 2: True}


def test_predictions_that_confirm_nothing_are_not_trusted():
    scene = build_scene(seed=16)
    labels = prepare_labels(scene.labels, "m1")[0]
    rng = np.random.default_rng(0)
    junk = pd.DataFrame(
        {
            "frame": np.repeat(np.arange(1, VIDEO.n_frames + 1), 3),
            "x": rng.uniform(0, 1200, 3 * VIDEO.n_frames),
            "y": rng.uniform(0, 600, 3 * VIDEO.n_frames),
            "w": 10.0,
            "h": 10.0,
            "conf": 0.5,
        }
    )
    report = find_ghosts(labels, junk, 0, VIDEO)
    assert not report.used_predictions
    assert "ghosts were judged from the geometry alone" in report.messages[0]
    assert removed_rows(labels, report) == scene.ghost_rows


def test_short_spans_and_other_roles_are_never_ghosts():
    kf = pd.concat(
        [
            keyframes((1, 1, 600, 300), (20, 1, 700, 300)),  # 0.76 s without any prediction
            keyframes((1, 2, 300, 300), (300, 2, 500, 300), role="ball"),
        ]
    )
    labels = prepare_labels(interpolate_keyframes(kf), "m1")[0]
    preds = pd.DataFrame({"frame": [150], "x": [0.0], "y": [0.0], "w": [5.0], "h": [5.0], "conf": [1.0]})
    report = find_ghosts(labels, preds, 0, VIDEO, GhostConfig(min_baseline=0.0))
    assert report.spans["track_id"].tolist() == [1]
    assert len(report.removed) == 0


def beside(rows: pd.DataFrame, dy: float) -> pd.DataFrame:
    """Predictions of a player standing ``dy`` px below each of ``rows``' boxes."""
    return rows[["frame", "x", "y", "w", "h"]].assign(y=rows["y"] + dy, conf=0.9)


def test_a_ghost_beside_the_real_player_off_the_pitch_is_still_a_ghost():
    # Track 1 steps off the pitch at frame 100 and stands 40 px (half his height) beyond the line until he comes
    # back at frame 250: his detections overlap the gliding ghost box at IoU 0.33, his keyframes at 1.0.
    kf = keyframes((1, 1, 300, 300), (100, 1, 600, 300), (250, 1, 900, 300), (300, 1, 950, 300), (1, 2, 200, 500))
    kf = pd.concat([kf, keyframes((300, 2, 900, 500))])
    labels = prepare_labels(interpolate_keyframes(kf), "m1")[0]
    on_pitch = labels[~((labels["track_id"] == 1) & labels["frame"].between(101, 249))]
    ghost = labels[(labels["track_id"] == 1) & labels["frame"].between(101, 249)]
    preds = pd.concat([beside(on_pitch, 0.0), beside(ghost, 40.0)])
    report = find_ghosts(labels, preds, 0, VIDEO)
    assert removed_rows(labels, report) == {(f, 1) for f in range(101, 250)}
    # Any overlap confirming a row (the rule before it was relative to the keyframes) keeps the whole ghost.
    absolute = find_ghosts(labels, preds, 0, VIDEO, GhostConfig(confirm_iou_ratio=0.0, trim_iou_ratio=0.0))
    assert len(absolute.removed) == 0


def test_ends_are_kept_only_while_they_agree_about_as_well_as_the_keyframes():
    kf = keyframes((1, 1, 300, 300), (100, 1, 600, 300), (250, 1, 900, 300), (300, 1, 950, 300))
    labels = prepare_labels(interpolate_keyframes(kf), "m1")[0]
    ghost = labels[labels["frame"].between(101, 249)]
    # The player drifts away from the ghost box by 2 px a frame after the exit keyframe (IoU 0.95, 0.9, ...).
    drift = 2.0 * np.minimum(ghost["frame"] - 100, 250 - ghost["frame"]).to_numpy()
    preds = pd.concat(
        [beside(labels[~labels["frame"].between(101, 249)], 0.0), beside(ghost, 0.0).assign(y=ghost["y"] + drift)]
    )
    report = find_ghosts(labels, preds, 0, VIDEO)
    kept = {f for f in range(101, 250)} - {f for f, _ in removed_rows(labels, report)}
    # Kept while IoU >= 0.8 of the keyframes' 1.0, i.e. drift <= 8.9 px: frames 101-104 and 246-249.
    assert kept == {101, 102, 103, 104, 246, 247, 248, 249}


def test_a_span_drawn_as_poorly_as_its_own_keyframes_is_not_a_ghost():
    # A far, small player whose annotator drew both keyframes of a long span a few pixels off (IoU ~0.3 with his
    # detections), while his other keyframes agree well: the interpolation cannot do better than its keyframes.
    kf = keyframes((1, 1, 300, 300), (50, 1, 320, 300), (100, 1, 340, 300), (250, 1, 400, 300), (300, 1, 420, 300))
    labels = prepare_labels(interpolate_keyframes(kf), "m1")[0]
    sloppy = labels["frame"].between(100, 250)
    preds = pd.concat([beside(labels[~sloppy], 0.0), beside(labels[sloppy], 40.0)])
    report = find_ghosts(labels, preds, 0, VIDEO)
    assert len(report.removed) == 0
