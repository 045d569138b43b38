"""export-cvat: a match as a CVAT task, read back by import-cvat to the same keyframes; pseudo-labels marked."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from cvops.catalog import Catalog
from cvops.labels import LabelStore, interpolate_keyframes
from cvops.labels.cvat import read_cvat_video_xml
from cvops.labels.cvat_import import import_cvat
from cvops.settings import CvopsPaths
from cvops_cli import main
from tests.factories import match_row, write_csv, write_store
from tests.labels.test_labels_cvat_import import _video

COLUMNS = ["frame", "track_id", "role", "x", "y", "w", "h", "outside", "occluded"]
KEYFRAMES = [
    # A player who leaves the picture on frame 12 (no box there) and is back on 20; a ghost-style goalkeeper
    # track (no exit recorded); a ball seen once, occluded.
    (1, 3, "player", 10.5, 10.25, 10, 20, 0, 0),
    (8, 3, "player", 17.0, 12.0, 10, 20, 0, 1),
    (12, 3, "player", "", "", "", "", 1, 0),
    (20, 3, "player", 30.0, 11.0, 10, 20, 0, 0),
    (24, 3, "player", 33.0, 11.0, 10, 20, 0, 0),
    (2, 9, "goalkeeper", 50.0, 20.0, 8, 16, 0, 0),
    (22, 9, "goalkeeper", 40.0, 22.0, 8, 16, 0, 0),
    (5, 11, "ball", 30.0, 5.0, 3, 3, 0, 1),
]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CvopsPaths:
    monkeypatch.setenv("CVOPS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CVOPS_LABEL_STORE", str(tmp_path / "store"))
    video = _video(tmp_path / "store" / "videos" / "m1.mp4", frames=30)
    write_store(tmp_path / "store", [match_row("m1", video=str(video), n_frames=30, width=64, height=48)], {})
    rows = [dict(zip(COLUMNS, row, strict=True)) for row in KEYFRAMES]
    write_csv(tmp_path / "store" / "m1" / "keyframes.csv", COLUMNS, rows)
    return CvopsPaths.from_env()


def test_export_then_import_gives_back_the_same_keyframes(home: CvopsPaths, tmp_path: Path) -> None:
    store = LabelStore(home.label_store)
    before = store.read_keyframes("m1", n_frames=30)
    result = CliRunner().invoke(main, ["export-cvat", "m1", "--out", str(tmp_path / "task")])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and "30 frames, 3 tracks" in result.output and "pseudo" not in result.output
    task = read_cvat_video_xml(tmp_path / "task" / "annotations.xml")
    meta = task.task
    assert (meta.start_frame, meta.stop_frame, meta.step, meta.original_size) == (0, 29, 1, (64, 48))
    frames = pd.read_csv(tmp_path / "task" / "frames.csv")
    assert frames.iloc[[0, -1]].to_dict("list") == {"cvat_frame": [0, 29], "frame": [1, 30]}

    summary = import_cvat(tmp_path / "task" / "annotations.xml", home.label_store, match_id="m1", replace=True)
    assert summary.replaced and summary.closing_keyframes == 0
    after = store.read_keyframes("m1", n_frames=30)
    def visible(keyframes: pd.DataFrame) -> pd.DataFrame:
        shown = keyframes[~keyframes["outside"]]
        return shown.sort_values(["frame", "track_id"]).reset_index(drop=True)

    pd.testing.assert_frame_equal(visible(after), visible(before), atol=0.005)
    assert after.loc[after["outside"], ["frame", "track_id"]].values.tolist() == [[12, 3]]
    pd.testing.assert_frame_equal(interpolate_keyframes(after), interpolate_keyframes(before), atol=0.005)


def test_predictions_become_marked_pseudo_labels_until_a_person_annotates(home: CvopsPaths, tmp_path: Path) -> None:
    store = LabelStore(home.label_store)
    rows = {k: str(v) for k, v in match_row("m1", video="videos/m1.mp4", n_frames=30, width=64, height=48).items()}
    store.upsert_match_rows([{**rows, "status": "in_progress"}])
    frames = np.arange(1, 31)
    tracks = pd.DataFrame(
        {"frame": frames, "track_id": 1, "role": "player", "x": 1.0 + frames, "y": 4.0, "w": 9.0, "h": 18.0}
    ).assign(conf=0.8)
    Catalog.at(home).write("model_tracks", tracks, "m1")

    result = CliRunner().invoke(main, ["export-cvat", "m1", "--out", str(tmp_path / "task"), "--from", "predictions"])
    assert result.exit_code == 0, result.output
    assert "(marked as pseudo-labels)" in result.output and "status pseudo_labelled" in result.output
    xml = (tmp_path / "task" / "annotations.xml").read_text()
    assert 'source="auto"' in xml and '<attribute name="pseudo_label">true</attribute>' in xml
    match = store.read_matches().matches["m1"]
    assert match.status == "pseudo_labelled" and not match.is_annotated
    assert len(store.read_keyframes("m1")) == 2  # a straight track: its two ends

    import_cvat(tmp_path / "task" / "annotations.xml", home.label_store, match_id="m1", replace=True)
    assert store.read_matches().matches["m1"].status == "annotated"


def test_queue_export_is_an_image_task_of_the_queued_frames(home: CvopsPaths, tmp_path: Path) -> None:
    queue = pd.DataFrame(
        {
            "rank": [1, 2],
            "kind": ["disagreement", "unconfirmed_track"],
            "frame": [21, 5],
            "first_frame": [21, 1],
            "last_frame": [21, 24],
            "track_id": pd.array([None, 3], dtype="Int64"),
            "score": [4.0, 12.0],
            "detail": ["4 boxes disagree", "track 3 unconfirmed"],
            "source": "labels vs model m1",
        }
    )
    Catalog.at(home).write("review_queue", queue, "m1")
    result = CliRunner().invoke(main, ["export-cvat", "m1", "--out", str(tmp_path / "q"), "--queue"])
    assert result.exit_code == 0, result.output
    assert "2 review queue frames" in result.output
    frames = pd.read_csv(tmp_path / "q" / "frames.csv")
    assert frames[["cvat_frame", "frame", "image", "rank"]].values.tolist() == [
        [0, 5, "frame_000004.jpg", 2],
        [1, 21, "frame_000020.jpg", 1],
    ]
    assert sorted(p.name for p in (tmp_path / "q" / "images").iterdir()) == ["frame_000004.jpg", "frame_000020.jpg"]
    boxes = read_cvat_video_xml(tmp_path / "q" / "annotations.xml").keyframes
    shown = boxes[~boxes["outside"]]
    # Frame 5 (image 0) shows the player, the goalkeeper and the ball; frame 21 (image 1) the player and keeper.
    assert sorted(map(tuple, shown[["frame", "track"]].values.tolist())) == [(0, 3), (0, 9), (0, 11), (1, 3), (1, 9)]
    assert boxes.loc[boxes["outside"], ["frame", "track"]].values.tolist() == [[1, 11]]
