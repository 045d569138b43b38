"""The review queue ranks what is worth a human's time and says why; pseudo-labels draw what the tracker saw."""

import numpy as np
import pandas as pd

from cvops.labels import interpolate_keyframes
from cvops.review import ReviewQueueConfig, keyframes_from_tracks, labels_vs_model_queue, model_only_queue
from cvops.review.tracks import track_predictions

FPS = 10.0


def _labels(n_frames: int = 60) -> pd.DataFrame:
    rows = [
        (frame, track, "player", 50.0 * track + frame, 100.0, 20.0, 40.0)
        for frame in range(1, n_frames + 1)
        for track in (1, 2, 3)
    ]
    return pd.DataFrame(rows, columns=["frame", "track_id", "role", "x", "y", "w", "h"])


def _agreement(labels: pd.DataFrame, predictions: pd.DataFrame) -> pd.DataFrame:
    # What cleaning's frame_agreement says of these tables (every label of tracks 1-2 matched but on frame 30).
    frames = sorted(predictions["frame"].unique())
    n_matched = [1 if frame == 30 else 2 for frame in frames]
    return pd.DataFrame({"frame": frames, "n_labels": 3, "n_matched": n_matched, "mean_iou": 0.9})


def test_annotated_match_queue_ranks_disagreements_and_unconfirmed_tracks() -> None:
    labels = _labels()
    predictions = labels[labels["track_id"] != 3].assign(conf=0.9).drop(columns=["track_id", "role"])
    predictions = predictions[~((predictions["frame"] == 30) & (predictions["x"] == 80.0))]  # track 1 missed
    extra = pd.DataFrame({"frame": [30, 30, 31], "x": [400.0, 450.0, 400.0], "y": 10.0, "w": 20.0, "h": 40.0})
    predictions = pd.concat([predictions, extra.assign(conf=0.8)], ignore_index=True)
    queue = labels_vs_model_queue(
        labels, predictions, _agreement(labels, predictions), fps=FPS, source="labels vs model m1"
    )
    assert queue["rank"].tolist() == list(range(1, len(queue) + 1))
    top = queue.iloc[0]
    assert (top.kind, top.frame, top.score) == ("disagreement", 30, 4.0)  # 2 labels unmatched + 2 unlabelled
    assert "2 of 3 labelled players have no detection" in top.detail and "2 detections scoring >= 0.5" in top.detail
    track = queue[queue["kind"] == "unconfirmed_track"].iloc[0]
    assert (track.track_id, track.first_frame, track.last_frame) == (3, 1, 60)
    assert "the model confirms 0% of its 60 labelled frames" in track.detail
    disagreements = queue.loc[queue["kind"] == "disagreement", "frame"].to_numpy()
    # Frame 31 is within 2 s of frame 30: one item. Every other frame has track 3's label unmatched.
    assert 31 not in disagreements and np.diff(np.sort(disagreements)).min() >= 20
    assert queue.iloc[1].kind == "unconfirmed_track"  # kinds interleaved: the best of each first


def test_unannotated_match_queue_finds_doubtful_tracks_switches_and_dropped_detections() -> None:
    rows = [(frame, 1, "player", float(frame), 100.0, 20.0, 40.0, 0.9) for frame in range(1, 21)]
    rows += [(frame, 5, "player", float(frame) + 1, 100.0, 20.0, 40.0, 0.9) for frame in range(22, 41)]
    rows += [(frame, 7, "player", 300.0, 50.0, 20.0, 40.0, 0.3) for frame in range(1, 41)]
    tracks = pd.DataFrame(rows, columns=["frame", "track_id", "role", "x", "y", "w", "h", "conf"])
    predictions = tracks.drop(columns=["track_id", "role"])
    far = pd.DataFrame({"frame": [35, 35, 35], "x": [500.0, 550.0, 600.0], "y": 5.0, "w": 10.0, "h": 20.0})
    predictions = pd.concat([predictions, far.assign(conf=0.7)], ignore_index=True)
    queue = model_only_queue(tracks, predictions, fps=FPS, source="model m1", config=ReviewQueueConfig())
    kinds = queue.set_index("kind")
    assert kinds.loc["low_confidence_track", "track_id"] == 7
    assert (
        "mean detection score 0.30 over 40 frames, about 28 of its boxes may be wrong"
        in kinds.loc["low_confidence_track", "detail"]
    )
    assert (kinds.loc["possible_id_switch", "track_id"], kinds.loc["possible_id_switch", "frame"]) == (5, 22)
    assert "track 1 ends on frame 20 and track 5 starts on frame 22" in kinds.loc["possible_id_switch", "detail"]
    assert (kinds.loc["dropped_detections", "frame"], kinds.loc["dropped_detections", "score"]) == (35, 3.0)


def test_pseudo_labels_interpolate_back_to_the_tracks() -> None:
    frames = np.r_[1:31, 41:61]  # the object is gone on 31..40
    tracks = pd.DataFrame(
        {
            "frame": frames,
            "track_id": 4,
            "role": "goalkeeper",
            "x": 100 + 2.0 * frames,
            "y": 50 + np.where(frames < 20, 0.0, frames - 20.0),
            "w": 20.0,
            "h": 40.0,
            "conf": 0.9,
        }
    )
    keyframes = keyframes_from_tracks(tracks, tolerance_px=0.5)
    assert keyframes["outside"].sum() == 1 and keyframes.loc[keyframes["outside"], "frame"].item() == 31
    assert len(keyframes) < 10  # a few keyframes where the motion changes, not one per frame
    drawn = interpolate_keyframes(keyframes)
    assert drawn["frame"].tolist() == frames.tolist()
    np.testing.assert_allclose(drawn[["x", "y"]].to_numpy(), tracks[["x", "y"]].to_numpy(), atol=0.5)


def test_tracking_predictions_keeps_the_model_roles() -> None:
    frames = list(range(1, 21))
    predictions = pd.DataFrame(
        [(f, 10.0 + f, 20.0, 20.0, 40.0, 0.9, "referee") for f in frames]
        + [(f, 300.0, 20.0 + f, 8.0, 8.0, 0.8, "ball") for f in frames],
        columns=["frame", "x", "y", "w", "h", "conf", "role"],
    )
    tracks = track_predictions(predictions, frames)
    assert sorted(tracks.groupby("track_id")["role"].first()) == ["ball", "referee"]
    unknown = track_predictions(predictions.drop(columns="role"), frames)
    assert set(unknown["role"]) == {"other"}


def test_frames_outside_the_labelled_span_are_not_disagreements() -> None:
    # Labels shifted by a sync offset of 4 frames leave the video's last frames unlabelled: detections there are
    # not an annotator's miss.
    labels = _labels()
    predictions = labels.assign(conf=0.9).drop(columns=["track_id", "role"])
    beyond = predictions[predictions["frame"] == predictions["frame"].max()]
    predictions = pd.concat([predictions, *(beyond.assign(frame=f) for f in (61, 62, 63, 64))], ignore_index=True)
    queue = labels_vs_model_queue(
        labels, predictions, _agreement(labels, predictions), fps=FPS, source="labels vs model m1"
    )
    assert not queue.loc[queue["kind"] == "disagreement", "frame"].isin([61, 62, 63, 64]).any()
