"""The whole per-match cleaning: public tables, numbering, summary, and bad inputs that must not crash it."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from cleaning_scenes import VIDEO, build_scene, detections

from cvops.cleaning import AgreementConfig, VideoInfo, clean_match, frame_agreement
from cvops.errors import InputError
from cvops.labels import interpolate_keyframes


def test_tables_have_the_public_columns_and_types():
    scene = build_scene(seed=21)
    result = clean_match("m1", scene.labels, detections(scene, shift=2), VIDEO)
    assert list(result.match_sync.columns) == [
        "match_id", "offset", "score", "score_at_zero", "applied", "best_offset", "refined_offset",
    ]  # fmt: skip
    assert list(result.cleaned_tracks.columns) == ["match_id", "frame", "track_id", "role", "x", "y", "w", "h"]
    assert list(result.label_removals.columns) == ["match_id", "frame", "track_id", "reason"]
    assert list(result.frame_agreement.columns) == ["match_id", "frame", "n_labels", "n_matched", "mean_iou"]
    assert result.cleaned_tracks["frame"].dtype == np.int64
    assert result.frame_agreement["n_matched"].dtype == np.int64
    row = result.match_sync.iloc[0].to_dict()
    assert {k: row[k] for k in ("match_id", "offset", "applied", "best_offset")} == {
        "match_id": "m1", "offset": 2, "applied": True, "best_offset": 2,
    }  # fmt: skip
    assert row["score"] > row["score_at_zero"] and abs(row["refined_offset"] - 2) < 0.2
    json.dumps(result.summary)  # metadata must be serialisable


def test_cleaned_frames_are_video_frames_and_removals_keep_label_frames():
    scene = build_scene(seed=22)
    labels = scene.labels
    result = clean_match("m1", labels, detections(scene, shift=-2), VIDEO)
    assert result.sync.offset == -2
    ghosts = result.label_removals[result.label_removals["reason"] == "ghost"]
    assert set(zip(ghosts["frame"], ghosts["track_id"], strict=True)) == scene.ghost_rows
    outside = result.label_removals[result.label_removals["reason"] == "outside_video"]
    assert sorted(set(outside["frame"])) == [1, 2]
    # Every kept row is its raw row moved by the offset.
    raw = labels.set_index(["frame", "track_id"])
    kept = result.cleaned_tracks.assign(label_frame=lambda d: d["frame"] + 2).set_index(["label_frame", "track_id"])
    pd.testing.assert_series_equal(kept["x"], raw.loc[kept.index, "x"], check_names=False)
    assert len(result.cleaned_tracks) + len(result.label_removals) == len(labels)
    assert result.summary["rows_removed"] == {
        "ghost": 149, "invalid_box": 0, "duplicate": 0, "outside_video": len(outside),
    }  # fmt: skip


def test_agreement_counts_players_only_and_measures_matched_iou():
    tracks = pd.DataFrame(
        {
            "frame": [1, 1, 1, 2],
            "track_id": [1, 2, 3, 1],
            "role": ["player", "goalkeeper", "referee", "player"],
            "x": [0.0, 100.0, 200.0, 0.0],
            "y": 0.0,
            "w": 10.0,
            "h": 20.0,
        }
    )
    preds = pd.DataFrame(
        {"frame": [1, 1, 3], "x": [0.0, 200.0, 0.0], "y": 0.0, "w": [10.0, 10.0, 10.0], "h": 20.0, "conf": 1.0}
    )
    agreement = frame_agreement(tracks, preds, AgreementConfig())
    assert agreement[["frame", "n_labels", "n_matched"]].to_dict("list") == {
        "frame": [1, 3],
        "n_labels": [2, 0],
        "n_matched": [1, 0],
    }
    assert agreement["mean_iou"][0] == 1.0 and math.isnan(agreement["mean_iou"][1])


@pytest.mark.parametrize("predictions", ["none", "empty", "other_frames", "duplicates", "broken"])
def test_bad_predictions_never_crash_and_are_explained(predictions):
    scene = build_scene(seed=23)
    good = detections(scene)
    preds = {
        "none": None,
        "empty": good.iloc[:0],
        "other_frames": good.assign(frame=good["frame"] + 10_000),
        "duplicates": pd.concat([good, good]),
        "broken": good.assign(w=np.where(np.arange(len(good)) % 2, np.nan, good["w"])),
    }[predictions]
    result = clean_match("m1", scene.labels, preds, VIDEO)
    text = " ".join(result.messages)
    expected = {
        "none": "no predictions for this match",
        "empty": "no usable predictions",
        "other_frames": "outside the video's frames",
        "duplicates": "duplicate predictions",
        "broken": "non-finite or empty box",
    }[predictions]
    assert expected in text
    ghosts = result.label_removals[result.label_removals["reason"] == "ghost"]
    assert set(zip(ghosts["frame"], ghosts["track_id"], strict=True)) == scene.ghost_rows
    assert result.sync.offset == 0


def test_empty_labels_one_keyframe_tracks_and_no_players_are_handled():
    empty = clean_match("m1", interpolate_keyframes(build_scene().keyframes.iloc[:0]), None, VIDEO)
    assert empty.cleaned_tracks.empty and empty.label_removals.empty
    assert "no labels" in " ".join(empty.messages)
    single = pd.DataFrame(
        {"frame": [5, 9], "track_id": [1, 2], "role": ["ball", "ball"], "x": 1.0, "y": 1.0, "w": 4.0, "h": 4.0}
    )
    result = clean_match("m1", interpolate_keyframes(single), None, VIDEO)
    assert len(result.cleaned_tracks) == 2
    assert result.summary["spans_examined"] == 0
    assert "no players in the cleaned labels" in " ".join(result.messages)


def test_invalid_and_duplicate_label_rows_are_removed_with_their_reason():
    scene = build_scene(seed=24, ghost=False)
    labels = scene.labels
    labels.loc[labels.index[:3], "w"] = np.nan
    labels = pd.concat([labels, labels.iloc[10:12].assign(x=0.0)], ignore_index=True)
    result = clean_match("m1", labels, detections(scene), VIDEO)
    assert result.summary["rows_removed"]["invalid_box"] == 3
    assert result.summary["rows_removed"]["duplicate"] == 2
    assert (result.label_removals["reason"] == "invalid_box").sum() == 3
    assert len(result.cleaned_tracks) + len(result.label_removals) == len(labels)
    kept = result.cleaned_tracks.set_index(["frame", "track_id"])
    first = labels.iloc[10]
    assert kept.loc[(first["frame"], first["track_id"]), "x"] == first["x"]


def test_missing_columns_raise_an_input_error_naming_the_match():
    scene = build_scene(seed=25)
    with pytest.raises(InputError, match=r"is_keyframe.*m9|m9.*is_keyframe"):
        clean_match("m9", scene.labels.drop(columns="is_keyframe"), None, VIDEO)
    with pytest.raises(InputError, match="predictions lack column"):
        clean_match("m9", scene.labels, detections(scene).drop(columns="x"), VIDEO)


def test_bad_video_info_is_rejected():
    with pytest.raises(InputError, match="positive"):
        VideoInfo(n_frames=0, width=10, height=10)


def test_cleaning_is_deterministic():
    scene = build_scene(seed=26)
    preds = detections(scene, shift=1)
    first = clean_match("m1", scene.labels, preds, VIDEO)
    second = clean_match("m1", scene.labels.sample(frac=1.0, random_state=0), preds.iloc[::-1], VIDEO)
    pd.testing.assert_frame_equal(first.cleaned_tracks, second.cleaned_tracks)
    pd.testing.assert_frame_equal(first.label_removals, second.label_removals)
    pd.testing.assert_frame_equal(first.frame_agreement, second.frame_agreement)
