"""The online tracker on scripted and simulated scenes: identities, occlusions, births, deaths, classes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cvops.errors import InputError
from cvops.metrics import evaluate_sequence
from cvops.tracking import OnlineTracker, TrackerConfig, TrackState, track_sequence
from cvops.tracking.matching import iou_with_appearance
from cvops.tracking.simulate import DetectorModel, random_scene, simulate_detections

GT_COLUMNS = ["frame", "id", "x", "y", "w", "h", "cls"]


def linear(object_id: int, frames: range, start: tuple[float, float], velocity: tuple[float, float], cls: int = 0):
    """Rows of an object moving at constant velocity, 40x100 px."""
    return [
        (
            f,
            object_id,
            start[0] + velocity[0] * (f - frames[0]),
            start[1] + velocity[1] * (f - frames[0]),
            40.0,
            100.0,
            cls,
        )
        for f in frames
    ]


def meet_and_turn(ids: tuple[int, int], y: float, n_frames: int, turn: bool, classes=(0, 0)):
    """Two players run at each other along one line and meet at frame 50; if ``turn`` both run back.

    A constant-velocity model predicts each one carrying on through the other, so after a turn the IoU alone
    points each track at the other player: only appearance can keep the identities.
    """
    rows = []
    for object_id, direction, dy, cls in ((ids[0], 1, 0.0, classes[0]), (ids[1], -1, 12.0, classes[1])):
        for f in range(1, n_frames + 1):
            t = f - 50
            if turn and t > 0:
                t = -t
            rows.append((f, object_id, 600 + direction * 6.0 * t, y + dy, 40.0, 100.0, cls))
    return rows


def as_gt(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=GT_COLUMNS).sort_values(["frame", "id"], ignore_index=True)


def detections_of(gt: pd.DataFrame, score: float = 0.9, dim: int = 16, seed: int = 0) -> pd.DataFrame:
    """Exact boxes with one fixed random embedding per object."""
    rng = np.random.default_rng(seed)
    vectors = {i: v / np.linalg.norm(v) for i, v in ((i, rng.normal(size=dim)) for i in gt["id"].unique())}
    dets = gt[["frame", "x", "y", "w", "h", "cls"]].assign(conf=score, gt_id=gt["id"])
    dets["embedding"] = [vectors[i] for i in gt["id"]]
    return dets


def without_embeddings(dets: pd.DataFrame) -> pd.DataFrame:
    return dets.drop(columns=[c for c in dets.columns if c.startswith("emb") or c == "embedding"])


def identities(tracks: pd.DataFrame, dets: pd.DataFrame) -> pd.DataFrame:
    """Track id per (frame, gt_id), by joining tracks to the detections they came from on the closest box."""
    merged = tracks.merge(dets[["frame", "x", "y", "gt_id"]], on="frame", suffixes=("", "_det"))
    merged["distance"] = np.hypot(merged["x"] - merged["x_det"], merged["y"] - merged["y_det"])
    return merged.sort_values("distance").drop_duplicates(["frame", "track_id"]).sort_values(["frame", "gt_id"])


def test_embeddings_keep_identities_through_crossings_where_iou_alone_swaps() -> None:
    rows = []
    for pair in range(6):  # three pairs turn back at the meeting point, three pass through each other
        rows += meet_and_turn((2 * pair + 1, 2 * pair + 2), 60 + 160 * pair, 100, turn=pair % 2 == 0)
    gt = as_gt(rows)
    dets = simulate_detections(gt, DetectorModel(miss_rate=0.0), seed=1)
    assert (dets["conf"] < 0.5).sum() > 0 and len(dets) < len(gt)  # the crossings really occlude

    with_appearance = evaluate_sequence(gt, track_sequence(dets))
    iou_only = evaluate_sequence(gt, track_sequence(without_embeddings(dets)))

    assert with_appearance.id_switches == 0
    assert with_appearance.idf1 > 0.98
    assert iou_only.id_switches >= 4  # each turning pair swaps (two switches) for a motion-only tracker
    assert iou_only.idf1 < with_appearance.idf1 - 0.15
    # BoT-SORT's stage consults appearance only between overlapping boxes: after a turn the predicted boxes
    # have moved on, so it swaps like IoU alone. That is the price of ignoring a weak re-ID model elsewhere.
    botsort = evaluate_sequence(gt, track_sequence(dets, TrackerConfig(first_stage="botsort")))
    assert botsort.id_switches >= 4


def test_identity_survives_a_short_occlusion() -> None:
    gt = as_gt(linear(1, range(1, 81), (100, 100), (5, 1)) + linear(2, range(1, 81), (100, 600), (4, -1)))
    dets = detections_of(gt)
    dets = dets[~((dets["gt_id"] == 1) & dets["frame"].between(30, 41))]  # twelve frames unseen
    for variant in (dets, without_embeddings(dets)):
        tracks = track_sequence(variant)
        ids_of_object = identities(tracks, variant).query("gt_id == 1")["track_id"]
        assert ids_of_object.nunique() == 1
        assert sorted(tracks.query("frame == 35")["track_id"]) == [2]  # lost tracks are not reported


def test_births_deaths_and_reappearance_after_max_lost() -> None:
    config = TrackerConfig(max_lost=10)
    gt = as_gt(
        linear(1, range(1, 101), (100, 100), (3, 0))
        + linear(2, range(30, 61), (900, 500), (-3, 0))
        + linear(2, range(80, 101), (600, 500), (0, 0))
    )
    dets = detections_of(gt)
    tracker = OnlineTracker(config)
    per_frame = {}
    states_at = {}
    for frame in range(1, 101):
        rows = dets[dets["frame"] == frame]
        result = tracker.update(
            rows[["x", "y", "w", "h"]].to_numpy(), rows["conf"], rows["cls"], np.stack(rows["embedding"])
        )
        per_frame[frame] = result.track_ids.tolist()
        states_at[frame] = {t.track_id: t.state for t in tracker.tracks}
    assert per_frame[1] == [1]  # first-frame objects are confirmed at once
    assert per_frame[30] == [1]  # born tentative ...
    assert per_frame[31] == [1, 2]  # ... confirmed on its second frame
    assert states_at[70] == {1: TrackState.TRACKED, 2: TrackState.LOST}  # 10 frames unseen: still kept
    assert 2 not in states_at[71]  # 11 frames: dead
    assert per_frame[81] == [1, 3]  # coming back after max_lost is a new identity


def test_tracks_never_cross_classes() -> None:
    gt = as_gt(meet_and_turn((1, 2), 300, 100, turn=True, classes=(0, 1)))
    dets = without_embeddings(detections_of(gt))
    tracks = track_sequence(dets)
    assert evaluate_sequence(gt, tracks).id_switches == 0
    assert tracks.groupby("track_id")["cls"].nunique().max() == 1
    assert sorted(tracks.groupby("track_id")["cls"].first()) == [0, 1]


def test_low_score_detections_extend_tracks_but_do_not_start_them() -> None:
    gt = as_gt(linear(1, range(1, 41), (100, 100), (4, 0)))
    dets = without_embeddings(detections_of(gt))
    dets.loc[dets["frame"].between(15, 24), "conf"] = 0.3  # partly hidden: low confidence
    lonely = pd.DataFrame({"frame": [10, 11], "x": 900.0, "y": 900.0, "w": 40.0, "h": 100.0, "conf": 0.3, "cls": 0})
    dets = pd.concat([dets, lonely], ignore_index=True)

    tracks = track_sequence(dets)
    assert tracks["frame"].tolist() == list(range(1, 41)) and tracks["track_id"].nunique() == 1

    no_byte = track_sequence(dets, TrackerConfig(low_score=0.5))
    assert not no_byte["frame"].between(15, 24).any()
    assert no_byte["track_id"].nunique() == 1  # re-found from the lost state afterwards


def test_one_frame_spurious_detection_is_never_reported() -> None:
    gt = as_gt(linear(1, range(1, 21), (100, 100), (4, 0)))
    dets = without_embeddings(detections_of(gt))
    ghost = pd.DataFrame(
        {"frame": [8], "x": [900.0], "y": [900.0], "w": [40.0], "h": [100.0], "conf": [0.95], "cls": [0]}
    )
    tracks = track_sequence(pd.concat([dets, ghost], ignore_index=True))
    assert tracks["track_id"].unique().tolist() == [1]
    assert len(tracks) == 20


def test_embedding_column_of_arrays_equals_emb_columns() -> None:
    gt = random_scene(8, 60, seed=4)
    dets = simulate_detections(gt, DetectorModel(embedding_dim=8), seed=5)
    emb_columns = [f"emb_{i}" for i in range(8)]
    as_arrays = dets.drop(columns=emb_columns).assign(embedding=list(dets[emb_columns].to_numpy()))
    pd.testing.assert_frame_equal(track_sequence(dets), track_sequence(as_arrays))


def test_simulated_match_scene_quality() -> None:
    gt = random_scene(22, 300, seed=7)
    dets = simulate_detections(gt, DetectorModel(false_positives_per_frame=0.5), seed=8)
    metrics = evaluate_sequence(gt, track_sequence(dets))
    assert metrics.mota > 0.9
    assert metrics.idf1 > 0.85
    assert metrics.fp < 0.01 * metrics.num_gt_dets  # spurious low-score boxes never become tracks


def test_ids_are_per_instance_and_reset() -> None:
    box = [[10.0, 10.0, 40.0, 100.0]]
    first, second = OnlineTracker(), OnlineTracker()
    assert first.update(box, [0.9], [0]).track_ids.tolist() == [1]
    assert second.update(box, [0.9], [0]).track_ids.tolist() == [1]
    first.reset()
    assert first.frames_seen == 0 and first.tracks == ()
    assert first.update(box, [0.9], [0]).track_ids.tolist() == [1]


def test_empty_frames_and_empty_sequences() -> None:
    tracker = OnlineTracker()
    assert len(tracker.update(np.zeros((0, 4)), [], [])) == 0
    assert len(tracker.update([], [], [], embeddings=[])) == 0
    empty = track_sequence(pd.DataFrame(columns=["frame", "x", "y", "w", "h", "conf"]))
    assert list(empty.columns) == ["frame", "track_id", "x", "y", "w", "h", "conf", "cls"] and empty.empty


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"boxes": [[0, 0, 1]], "scores": [0.9], "classes": [0]}, "boxes"),
        ({"boxes": [[0, 0, 1, 1]], "scores": [0.9, 0.8], "classes": [0]}, "scores"),
        ({"boxes": [[0, 0, 0, 1]], "scores": [0.9], "classes": [0]}, "boxes"),
        ({"boxes": [[0, 0, 1, np.nan]], "scores": [0.9], "classes": [0]}, "boxes"),
        ({"boxes": [[0, 0, 1, 1]], "scores": [0.9], "classes": [0.5]}, "classes"),
        ({"boxes": [[0, 0, 1, 1]], "scores": [0.9], "classes": [0], "embeddings": [[0.0, 0.0]]}, "embeddings"),
        ({"boxes": [[0, 0, 1, 1]], "scores": [0.9], "classes": [0], "embeddings": [1.0, 0.0]}, "embeddings"),
    ],
)
def test_update_rejects_bad_inputs(kwargs, field) -> None:
    with pytest.raises(InputError) as caught:
        OnlineTracker().update(**kwargs)
    assert caught.value.field == field


def test_embedding_size_must_not_change() -> None:
    tracker = OnlineTracker()
    tracker.update([[0, 0, 10, 10]], [0.9], [0], [[1.0, 0.0]])
    with pytest.raises(InputError, match="embedding size changed from 2 to 3"):
        tracker.update([[0, 0, 10, 10]], [0.9], [0], [[1.0, 0.0, 0.0]])


def test_track_sequence_errors_name_the_column_and_row() -> None:
    dets = pd.DataFrame({"frame": [1, 2], "x": [0.0, 1.0], "y": [0.0, 0.0], "w": [10.0, -1.0], "h": [10.0, 10.0]})
    with pytest.raises(InputError, match="lack column") as caught:
        track_sequence(dets)
    assert caught.value.field == "conf"
    with pytest.raises(InputError, match="row 1") as caught:
        track_sequence(dets.assign(conf=0.9))
    assert caught.value.field == "w"
    with pytest.raises(InputError) as caught:
        track_sequence(dets.assign(conf=0.9, w=10.0, emb_0=1.0, emb_2=0.0))
    assert caught.value.field == "emb_1"
    with pytest.raises(InputError) as caught:
        track_sequence(dets.assign(conf=0.9, w=10.0, frame=[0, 1]))
    assert caught.value.field == "frame"


def test_config_validation_and_from_dict() -> None:
    with pytest.raises(InputError) as caught:
        TrackerConfig(min_iou_low=1.5)
    assert caught.value.field == "min_iou_low"
    with pytest.raises(InputError) as caught:
        TrackerConfig(low_score=0.7, high_score=0.5)
    assert caught.value.field == "low_score"
    with pytest.raises(InputError) as caught:
        TrackerConfig.from_dict({"max_lost": 5, "max_lsot": 3})
    assert caught.value.field == "max_lsot"
    config = TrackerConfig.from_dict({"max_lost": 5})
    assert config.max_lost == 5 and TrackerConfig.from_dict(config.as_dict()) == config


def test_operating_point_moves_the_score_thresholds_with_bytetrack_margin() -> None:
    assert TrackerConfig.at_operating_point(None) == TrackerConfig()
    at = TrackerConfig.at_operating_point(0.3, max_lost=10)
    assert (at.high_score, at.new_track_score, at.low_score, at.max_lost) == (0.3, pytest.approx(0.4), 0.1, 10)
    assert TrackerConfig.at_operating_point(0.01).high_score == 0.15  # stays above low_score
    assert TrackerConfig.at_operating_point(0.99).high_score == 0.85


def test_an_underconfident_detector_is_tracked_at_its_own_operating_point() -> None:
    # Every player detected on every frame, but at 0.45: below ByteTrack's 0.6 birth threshold.
    dets = pd.DataFrame(
        [(f, 100.0 * k, 50.0, 10.0, 20.0, 0.45) for f in range(1, 21) for k in range(1, 4)],
        columns=["frame", "x", "y", "w", "h", "conf"],
    )
    assert track_sequence(dets).empty
    tracks = track_sequence(dets, TrackerConfig.at_operating_point(0.3))
    assert tracks["track_id"].nunique() == 3 and len(tracks) == 60


def test_a_strided_clip_is_tracked_as_the_sequence_of_its_frames() -> None:
    # Every 3rd frame of a scene whose objects are born and die along the way, as the benchmark samples a clip.
    gt = random_scene(12, 150, seed=11)
    dets = simulate_detections(gt, DetectorModel(embedding_dim=8), seed=12)
    clip = list(range(1, 151, 3))
    strided = dets[dets["frame"].isin(clip)]
    tracks = track_sequence(strided, frames=clip)

    renumbered = strided.assign(frame=(strided["frame"] - 1) // 3 + 1)
    expected = track_sequence(renumbered, frames=range(1, len(clip) + 1))
    pd.testing.assert_frame_equal(tracks, expected.assign(frame=(expected["frame"] - 1) * 3 + 1))
    births = gt.groupby("id")["frame"].min()
    assert (births > 1).sum() >= 3  # objects that enter after the first frame are tracked too
    assert evaluate_sequence(gt[gt["frame"].isin(clip)], tracks).mota > 0.8  # 0.93; stepping every frame: 0.32


def test_frames_without_detections_still_age_tracks() -> None:
    dets = without_embeddings(detections_of(as_gt(linear(1, range(1, 6), (100, 100), (0, 0)))))
    config = TrackerConfig(max_lost=2)
    kept = track_sequence(pd.concat([dets, dets.iloc[[-1]].assign(frame=8)]), config, frames=range(1, 9))
    assert kept["track_id"].unique().tolist() == [1]  # unseen in frames 6 and 7 only: still the same track
    reborn = track_sequence(pd.concat([dets, dets.iloc[[-1]].assign(frame=9)]), config, frames=range(1, 10))
    assert reborn.loc[reborn["frame"] == 9, "track_id"].empty  # dead after 3 unseen frames; new one tentative
    not_looked_at = track_sequence(pd.concat([dets, dets.iloc[[-1]].assign(frame=9)]), config, frames=[*range(1, 6), 9])
    assert not_looked_at["track_id"].unique().tolist() == [1]  # frames 6-8 were never looked at: not missed


def test_detections_outside_the_given_frames_are_rejected() -> None:
    dets = without_embeddings(detections_of(as_gt(linear(1, range(1, 6), (100, 100), (4, 0)))))
    with pytest.raises(InputError, match="frame 2, which is not one of the given frames") as caught:
        track_sequence(dets, frames=[1, 3, 5])
    assert caught.value.field == "frame"
    assert track_sequence(dets.iloc[:0], frames=[1, 2]).empty


def test_matching_across_classes_keeps_a_track_whose_class_flickers() -> None:
    # Two players and a referee; a young detector calls the referee a player on every 3rd frame.
    gt = as_gt(
        linear(1, range(1, 31), (100, 100), (4, 0))
        + linear(2, range(1, 31), (100, 400), (4, 0))
        + linear(3, range(1, 31), (600, 250), (-4, 0), cls=2)
    )
    dets = without_embeddings(detections_of(gt))
    dets.loc[(dets["gt_id"] == 3) & (dets["frame"] % 3 == 0), "cls"] = 0

    strict = track_sequence(dets)
    assert evaluate_sequence(gt, strict).num_gt_dets - len(strict) >= 10  # the referee's track keeps breaking

    across = track_sequence(dets, TrackerConfig(match_across_classes=True))
    assert evaluate_sequence(gt, across).id_switches == 0 and len(across) == 90
    assert across.groupby("track_id")["cls"].agg(set).tolist() == [{0}, {0}, {2}]  # the class most given


@pytest.mark.parametrize(("noise", "team_similarity"), [(1.0, 0.9), (2.0, 0.9)])
def test_botsort_first_stage_is_not_misled_by_embeddings_that_cannot_tell_players_apart(
    noise: float, team_similarity: float
) -> None:
    gt = random_scene(22, 300, seed=7)
    weak = DetectorModel(embedding_noise=noise, team_similarity=team_similarity, false_positives_per_frame=0.5)
    dets = simulate_detections(gt, weak, seed=8)
    fairmot = evaluate_sequence(gt, track_sequence(dets))
    botsort = evaluate_sequence(gt, track_sequence(dets, TrackerConfig(first_stage="botsort")))
    iou_only = evaluate_sequence(gt, track_sequence(without_embeddings(dets)))
    assert fairmot.id_switches > 100  # 134 and 251: appearance-first matching follows the noise
    assert botsort.id_switches <= iou_only.id_switches  # 6 and 6
    assert botsort.idf1 >= iou_only.idf1 - 0.01


def test_botsort_cost_lets_appearance_decide_only_between_overlapping_boxes() -> None:
    iou_distance = np.array([[0.2, 0.45, 0.9], [0.3, 0.3, np.inf]])
    appearance = np.array([[0.1, 0.1, 0.0], [0.5, 0.2, 0.0]])
    cost = iou_with_appearance(iou_distance, appearance, min_iou=0.5, max_appearance_cost=0.25)
    expected = [[0.05, 0.05, 0.9], [0.3, 0.1, np.inf]]  # far boxes and other classes never get cheaper
    np.testing.assert_allclose(cost, expected)


def test_first_stage_must_be_known() -> None:
    with pytest.raises(InputError, match="fairmot, botsort") as caught:
        TrackerConfig(first_stage="deepsort")
    assert caught.value.field == "first_stage"


def test_frame_rate_scales_max_lost_as_bytetrack_does(tmp_path) -> None:
    assert TrackerConfig(max_lost=30).at_frame_rate(60).max_lost == 60
    assert TrackerConfig().at_frame_rate(25).max_lost == 25
    with pytest.raises(InputError):
        TrackerConfig().at_frame_rate(0)
    settings = tmp_path / "tracker.yaml"
    settings.write_text("[1, 2]\n")
    with pytest.raises(InputError, match="must be a mapping") as caught:
        TrackerConfig.read_settings(settings)
    assert caught.value.file == str(settings)
    settings.write_text("min_iou_low: 1.5\n")
    with pytest.raises(InputError) as caught:
        TrackerConfig.read_settings(settings)
    assert (caught.value.file, caught.value.field) == (str(settings), "min_iou_low")


def test_detection_boxes_are_reported_as_given() -> None:
    gt = random_scene(6, 40, seed=2)
    dets = simulate_detections(gt, DetectorModel(embedding_dim=0), seed=3)
    tracks = track_sequence(dets, TrackerConfig(reported_boxes="detection"))
    assert len(tracks.merge(dets, on=["frame", "x", "y", "w", "h"])) == len(tracks)
    with pytest.raises(InputError) as caught:
        TrackerConfig(reported_boxes="smoothed")
    assert caught.value.field == "reported_boxes"
