"""The defects the labels carry (ghosts, sync offsets) and the detector output, checked against the truth."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cvops.synth import SynthConfig
from cvops.synth.camera import PITCH_WIDTH, Camera
from cvops.synth.labels import detect, simplify_track, sync_offset, truth_table
from cvops.synth.league import make_fixture
from cvops.synth.scene import build_scene, image_boxes

MATCH_IDS = ("m0000", "m0001", "m0002")


def _truth_at(small_store: Path, mid: str) -> pd.DataFrame:
    return pd.read_csv(small_store / "_truth" / mid / "boxes.csv").set_index(["frame", "track_id"])


def _label_errors(interpolated: pd.DataFrame, truth: pd.DataFrame, offset: int, n: int) -> np.ndarray:
    """Max abs box difference of each interpolated label row vs the truth of video frame f + offset."""
    shown = interpolated.assign(frame=interpolated["frame"] + offset)
    shown = shown[shown["frame"].between(1, n)]
    joined = shown.merge(truth, left_on=["frame", "track_id"], right_index=True, suffixes=("", "_true"))
    return np.abs(
        joined[["x", "y", "w", "h"]].to_numpy() - joined[["x_true", "y_true", "w_true", "h_true"]].to_numpy()
    ).max(axis=1)


def test_ghosts_exist_and_are_exactly_the_unlabelled_interpolated_rows(
    small_store: Path, small_truth: pd.DataFrame, small_config: SynthConfig, interpolate: Callable
) -> None:
    n = small_config.n_frames
    for mid in MATCH_IDS:
        offset = int(small_truth.loc[mid, "sync_offset"])
        ghosts = pd.read_csv(small_store / "_truth" / mid / "ghosts.csv")
        assert list(ghosts.columns) == ["track_id", "start_frame", "end_frame"]
        assert 1 <= len(ghosts) <= 3 and small_truth.loc[mid, "n_ghost_spans"] == len(ghosts)
        assert (ghosts["end_frame"] - ghosts["start_frame"] + 1 >= 2 * small_config.frame_rate).all(), "several seconds"
        assert small_truth.loc[mid, "n_ghost_rows"] == (ghosts["end_frame"] - ghosts["start_frame"] + 1).sum()
        keyframes = pd.read_csv(small_store / mid / "keyframes.csv")
        truth = _truth_at(small_store, mid)
        ghost_rows = {
            (frame, row.track_id) for row in ghosts.itertuples() for frame in range(row.start_frame, row.end_frame + 1)
        }
        for row in ghosts.itertuples():
            track_frames = set(keyframes.loc[keyframes["track_id"] == row.track_id, "frame"])
            assert row.start_frame - 1 in track_frames and row.end_frame + 1 in track_frames
            assert not track_frames & set(range(row.start_frame, row.end_frame + 1))
        interpolated = interpolate(keyframes)
        shown = np.clip(interpolated["frame"] + offset, 1, n)
        has_truth = pd.MultiIndex.from_arrays([shown, interpolated["track_id"]]).isin(truth.index)
        unlabelled_rows = set(zip(interpolated["frame"][~has_truth], interpolated["track_id"][~has_truth], strict=True))
        assert unlabelled_rows == ghost_rows


def test_ghost_box_travels_from_exit_to_entry(small_store: Path, interpolate: Callable) -> None:
    ghosts = pd.read_csv(small_store / "_truth" / "m0000" / "ghosts.csv")
    interpolated = interpolate(pd.read_csv(small_store / "m0000" / "keyframes.csv")).set_index(["frame", "track_id"])
    for row in ghosts.itertuples():
        exit_box = interpolated.loc[(row.start_frame - 1, row.track_id)]
        entry_box = interpolated.loc[(row.end_frame + 1, row.track_id)]
        assert abs(exit_box["x"] - entry_box["x"]) > 5, "the player comes back in elsewhere along the touchline"
        assert exit_box["y"] > 0.8 * 180 - exit_box["h"], "players leave across the near touchline (image bottom)"


def test_labels_follow_truth_at_their_offset(
    small_store: Path, small_truth: pd.DataFrame, small_config: SynthConfig, interpolate: Callable
) -> None:
    n = small_config.n_frames
    tolerance, noise = small_config.keyframe_tolerance_px, small_config.label_noise_px
    shifted = 0
    for mid in MATCH_IDS:
        offset = int(small_truth.loc[mid, "sync_offset"])
        assert abs(offset) <= small_config.max_sync_offset
        interpolated = interpolate(pd.read_csv(small_store / mid / "keyframes.csv"))
        truth = _truth_at(small_store, mid)
        errors = _label_errors(interpolated, truth, offset, n)
        assert np.median(errors) <= tolerance + noise
        assert np.percentile(errors, 99) <= tolerance + 4 * noise
        mean_error = {k: _label_errors(interpolated, truth, k, n).mean() for k in range(-4, 5)}
        assert min(mean_error, key=mean_error.get) == offset
        if offset != 0:
            shifted += 1
            assert mean_error[0] > mean_error[offset] + 0.2
    assert 1 <= shifted < len(MATCH_IDS)


def test_sync_schedule_shifts_a_share_and_never_the_first_match() -> None:
    config = SynthConfig(seed=11)
    offsets = [sync_offset(config, i) for i in range(30)]
    assert offsets[0] == 0
    assert sum(k != 0 for k in offsets) == 10
    assert all(abs(k) <= config.max_sync_offset for k in offsets)
    for start in range(0, 28):
        assert sum(k != 0 for k in offsets[start : start + 3]) == 1
    assert all(sync_offset(SynthConfig(shifted_share=0.0), i) == 0 for i in range(10))


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ix = np.clip(
        np.minimum(a[:, None, 0] + a[:, None, 2], b[None, :, 0] + b[None, :, 2])
        - np.maximum(a[:, None, 0], b[None, :, 0]),
        0,
        None,
    )
    iy = np.clip(
        np.minimum(a[:, None, 1] + a[:, None, 3], b[None, :, 1] + b[None, :, 3])
        - np.maximum(a[:, None, 1], b[None, :, 1]),
        0,
        None,
    )
    inter = ix * iy
    return inter / (a[:, None, 2] * a[:, None, 3] + b[None, :, 2] * b[None, :, 3] - inter)


def test_detections_overlap_truth(small_store: Path, small_config: SynthConfig) -> None:
    for mid in MATCH_IDS:
        det = pd.read_csv(small_store / mid / "det.txt", header=None)
        assert det.shape[1] == 10
        assert (det[1] == -1).all() and (det[[7, 8, 9]] == -1).all().all()
        assert det[0].between(1, small_config.n_frames).all() and det[0].is_monotonic_increasing
        assert det[6].between(0, 1).all()
        truth = pd.read_csv(small_store / "_truth" / mid / "boxes.csv")
        detected = total = 0
        det_by_frame = {frame: group[[2, 3, 4, 5]].to_numpy() for frame, group in det.groupby(0)}
        for frame, group in truth.groupby("frame"):
            boxes = group[["x", "y", "w", "h"]].to_numpy()
            candidates = det_by_frame.get(frame)
            total += len(boxes)
            if candidates is not None:
                detected += int((_iou(boxes, candidates).max(axis=1) > 0.5).sum())
        assert 0.8 <= detected / total < 0.99, "most objects are detected, but not all"
        sources = pd.read_csv(small_store / "_truth" / mid / "detections.csv")
        assert np.allclose(sources[["x", "y", "w", "h", "conf"]].to_numpy(), det[[2, 3, 4, 5, 6]].to_numpy())
        false = sources["track_id"] == -1
        assert 0.5 * small_config.n_frames <= false.sum() <= 5 * small_config.n_frames
        assert sources.loc[~false, "conf"].mean() > sources.loc[false, "conf"].mean() + 0.3
        assert sources.loc[false, "conf"].max() > sources.loc[~false, "conf"].quantile(0.05), "confidences overlap"


def test_ball_is_missed_more_often_than_players(small_store: Path) -> None:
    truth = pd.read_csv(small_store / "_truth" / "m0000" / "boxes.csv")
    sources = pd.read_csv(small_store / "_truth" / "m0000" / "detections.csv")
    roles = truth.drop_duplicates("track_id").set_index("track_id")["role"]
    hits = sources[sources["track_id"] > 0]["track_id"].map(roles).value_counts()
    seen = truth["role"].value_counts()
    assert hits["ball"] / seen["ball"] < hits["player"] / seen["player"]


@settings(max_examples=60, deadline=None)
@given(
    knots=st.lists(st.tuples(st.integers(1, 30), st.floats(-5, 5), st.floats(-5, 5)), min_size=1, max_size=8),
    tolerance=st.floats(0.2, 3.0),
)
def test_simplify_track_keeps_interpolation_within_tolerance(
    knots: list[tuple[int, float, float]], tolerance: float
) -> None:
    velocities = np.concatenate([np.tile([vx, vy], (length, 1)) for length, vx, vy in knots])
    track = np.vstack([np.zeros((1, 2)), np.cumsum(velocities, axis=0)])
    keys = simplify_track(track, tolerance)
    assert keys[0] == 0 and keys[-1] == len(track) - 1 and np.all(np.diff(keys) > 0)
    frames = np.arange(len(track))
    for column in range(2):
        rebuilt = np.interp(frames, keys, track[keys, column])
        assert np.abs(rebuilt - track[:, column]).max() <= tolerance + 1e-9
    # A keyframe is never needed where motion does not change: at most one per velocity change plus the ends.
    assert len(keys) <= len(knots) + 1


def test_simplify_track_straight_line_needs_two_keyframes() -> None:
    track = np.stack([np.linspace(0, 50, 80), np.linspace(10, -3, 80)], axis=1)
    assert list(simplify_track(track, 0.5)) == [0, 79]


def test_a_ghost_player_waits_off_the_pitch_in_the_picture_detected_but_not_labelled() -> None:
    config = SynthConfig(n_matches=1, seconds=16, width=320, height=180, fps=10, seed=7, ghosts_per_match=(2, 2))
    fixture = make_fixture(config, 0)
    camera = Camera(config.width, config.height, fixture.stadium.view)
    scene = build_scene(config, fixture)
    boxes = image_boxes(scene, camera)
    off = scene.off_pitch
    frames, actors = np.nonzero(off)
    assert len(set(actors)) == 2 and {scene.actors[a].role for a in actors} == {"player"}
    assert (scene.positions[frames, actors, 1] > PITCH_WIDTH).all()
    assert boxes.visible[off].all(), "the default distances keep him in the picture"

    truth = truth_table(scene, boxes).set_index(["frame", "track_id"])
    track_ids = np.array([a.track_id for a in scene.actors])
    off_rows = pd.MultiIndex.from_arrays([frames + 1, track_ids[actors]])
    assert not off_rows.isin(truth.index).any(), "the annotation policy does not label him"
    detections = detect(config, 0, scene, boxes, camera)
    seen = pd.MultiIndex.from_frame(detections[["frame", "track_id"]]).isin(off_rows)
    assert seen.sum() >= 0.7 * len(off_rows), "but the detector sees him"

    further = build_scene(dataclasses.replace(config, ghost_off_pitch_m=(12.0, 16.0)), fixture)
    assert not image_boxes(further, camera).visible[further.off_pitch].all(), "far enough, he leaves the picture"


def test_recorded_exits_leave_no_ghost_and_the_same_visible_keyframes(small_config: SynthConfig) -> None:
    from cvops.labels import interpolate_keyframes
    from cvops.synth.labels import annotate

    plain = dataclasses.replace(small_config, record_exits=False)
    exits = dataclasses.replace(small_config, record_exits=True)
    fixture = make_fixture(plain, 0)
    camera = Camera(plain.width, plain.height, fixture.stadium.view)
    scene = build_scene(plain, fixture)
    boxes = image_boxes(scene, camera)
    without = annotate(plain, 0, scene, boxes, camera)
    with_exits = annotate(exits, 0, scene, boxes, camera)
    assert len(without.ghosts) >= 1 and with_exits.ghosts.empty
    outside = with_exits.keyframes["outside"]
    assert outside.any() and with_exits.keyframes.loc[outside, ["x", "y", "w", "h"]].isna().all().all()
    visible = with_exits.keyframes[~outside].drop(columns="outside").reset_index(drop=True)
    pd.testing.assert_frame_equal(visible, without.keyframes, check_dtype=False)
    # Each former ghost span now starts with an exit keyframe, and nothing is drawn across it.
    drawn = interpolate_keyframes(with_exits.keyframes).set_index(["frame", "track_id"])
    for row in without.ghosts.itertuples():
        assert ((with_exits.keyframes["track_id"] == row.track_id) & outside).any()
        assert not drawn.index.isin([(f, row.track_id) for f in range(row.start_frame, row.end_frame + 1)]).any()
