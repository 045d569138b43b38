"""MOT Challenge file reading and writing: layouts, round trips, and errors that name line and field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cvops.errors import InputError
from cvops.tracking import (
    mot_gt_path,
    read_mot_detections,
    read_mot_gt,
    read_mot_tracker,
    write_mot_detections,
    write_mot_gt,
    write_mot_tracker_file,
)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_gt_with_nine_columns_reads_flag_class_and_visibility(tmp_path: Path) -> None:
    path = _write(tmp_path / "gt.txt", "1,1,10.5,20,30,60,1,1,0.75\n1,2,100,20,30,60,0,7,1\n2,1,12,20,30,60,1,1,1\n")
    gt = read_mot_gt(path)
    assert list(gt.columns) == ["frame", "id", "x", "y", "w", "h", "conf", "cls", "visibility"]
    assert gt["frame"].dtype == np.int64 and gt["cls"].dtype == np.int64
    assert gt.loc[0, "x"] == 10.5 and gt.loc[0, "visibility"] == 0.75
    assert gt["conf"].tolist() == [1.0, 0.0, 1.0]
    assert gt["cls"].tolist() == [1, 7, 1]


def test_gt_with_six_columns_has_no_flag(tmp_path: Path) -> None:
    gt = read_mot_gt(_write(tmp_path / "gt.txt", "1,1,10,20,30,60\n2,1,11,20,30,60\n"))
    assert list(gt.columns) == ["frame", "id", "x", "y", "w", "h"]
    assert len(gt) == 2


def test_gt_with_ten_columns_ignores_the_last(tmp_path: Path) -> None:
    gt = read_mot_gt(_write(tmp_path / "gt.txt", "1,1,10,20,30,60,1,1,1,-1\n"))
    assert list(gt.columns)[-1] == "visibility" and len(gt.columns) == 9


def test_tracker_and_detection_files(tmp_path: Path) -> None:
    tracker = read_mot_tracker(_write(tmp_path / "t.txt", "1,3,10,20,30,60,0.9,-1,-1,-1\n"))
    assert list(tracker.columns) == ["frame", "id", "x", "y", "w", "h", "conf"]
    assert tracker.loc[0, "id"] == 3 and tracker.loc[0, "conf"] == 0.9
    six = read_mot_tracker(_write(tmp_path / "t6.txt", "1,3,10,20,30,60\n"))
    assert six.loc[0, "conf"] == 1.0
    dets = read_mot_detections(_write(tmp_path / "d.txt", "1,-1,10,20,30,60,0.4,-1,-1,-1\n2,-1,1,2,3,4,0.8,-1,-1,-1\n"))
    assert list(dets.columns) == ["frame", "x", "y", "w", "h", "conf"]
    assert dets["conf"].tolist() == [0.4, 0.8]


def test_tolerates_spaces_trailing_commas_and_blank_lines(tmp_path: Path) -> None:
    path = _write(tmp_path / "gt.txt", "1, 1, 10, 20, 30, 60,\n\n2, 1, 11, 20, 30, 60,\n")
    gt = read_mot_gt(path)
    assert gt["frame"].tolist() == [1, 2] and gt["x"].tolist() == [10.0, 11.0]


def test_empty_file_gives_empty_frame(tmp_path: Path) -> None:
    assert read_mot_tracker(_write(tmp_path / "t.txt", "")).empty
    assert list(read_mot_gt(_write(tmp_path / "g.txt", "\n")).columns) == ["frame", "id", "x", "y", "w", "h"]


@pytest.mark.parametrize(
    ("text", "row", "field", "words"),
    [
        ("1,1,10,20,30,60,1,1,1\n\n2,1,1x,20,30,60,1,1,1\n", 3, "x", "not a number"),
        ("1,1,10,20,30,60,1,1,1\n2,1,10,20,-30,60,1,1,1\n", 2, "w", "negative width"),
        ("1,1,10,20,30,60,1,1,1\n2,1,10,20,30,-1,1,1,1\n", 2, "h", "negative height"),
        ("1,1,10,20,30,60,1,1,1\n2,1,10,20,30,60,1,1\n", 2, None, "first row has 9"),
        ("1,1,10,20,30,60,1\n", 1, None, "has 6, 9, 10"),
        ("0,1,10,20,30,60\n", 1, "frame", "integer >= 1"),
        ("1.5,1,10,20,30,60\n", 1, "frame", "integer >= 1"),
        ("1,1,10,20,30,60\n1,1,50,20,30,60\n", 2, "id", "twice in one frame"),
        ("1,1,10,20,30,60,1,1.5,1\n", 1, "cls", "class must be an integer"),
        ("1,1,10,nan,30,60\n", 1, "y", "finite"),
    ],
)
def test_malformed_gt_rows_are_located(tmp_path: Path, text: str, row: int, field: str | None, words: str) -> None:
    path = _write(tmp_path / "gt.txt", text)
    with pytest.raises(InputError) as caught:
        read_mot_gt(path)
    error = caught.value
    assert error.file == str(path)
    assert error.row == row
    assert error.field == field
    assert words in str(error)


def test_tracker_duplicate_id_and_wrong_column_count(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="row 1") as caught:
        read_mot_tracker(_write(tmp_path / "t.txt", "1,1,10,20,30\n"))
    assert "tracker file" in str(caught.value)
    with pytest.raises(InputError) as caught:
        read_mot_detections(_write(tmp_path / "d.txt", "1,-1,10,20,30,60,abc,-1,-1,-1\n"))
    assert caught.value.row == 1 and caught.value.field == "conf"


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found") as caught:
        read_mot_gt(tmp_path / "nope.txt")
    assert caught.value.file == str(tmp_path / "nope.txt")


def test_tracker_file_round_trip_is_sorted_and_rounded(tmp_path: Path) -> None:
    tracks = pd.DataFrame(
        {
            "frame": [2, 1, 1],
            "track_id": [1, 2, 1],
            "x": [10.123456, 5.0, 1.0],
            "y": [1.0, 2.0, 3.0],
            "w": [30.0, 31.0, 32.0],
            "h": [60.0, 61.0, 62.0],
            "conf": [0.91234567, 0.5, 0.25],
            "cls": [0, 0, 0],
        }
    )
    path = tmp_path / "out" / "seq.txt"
    write_mot_tracker_file(path, tracks)
    lines = path.read_text().splitlines()
    assert lines[0] == "1,1,1,3,32,62,0.25,-1,-1,-1"
    assert lines[2] == "2,1,10.12,1,30,60,0.9123,-1,-1,-1"
    back = read_mot_tracker(path)
    assert back[["frame", "id"]].values.tolist() == [[1, 1], [1, 2], [2, 1]]
    assert [p.name for p in path.parent.iterdir()] == ["seq.txt"]  # no temporary file left behind


def test_gt_and_detection_writers_round_trip(tmp_path: Path) -> None:
    gt = pd.DataFrame({"frame": [1, 1], "id": [1, 2], "x": [0.0, 50], "y": [0.0, 5], "w": [10.0, 10], "h": [20, 20]})
    write_mot_gt(tmp_path / "gt.txt", gt)
    back = read_mot_gt(tmp_path / "gt.txt")
    assert back["conf"].tolist() == [1.0, 1.0] and back["cls"].tolist() == [1, 1]
    dets = gt.drop(columns="id").assign(conf=[0.3, 0.7])
    write_mot_detections(tmp_path / "det.txt", dets)
    assert (tmp_path / "det.txt").read_text().splitlines()[0] == "1,-1,0,0,10,20,0.3,-1,-1,-1"
    pd.testing.assert_frame_equal(read_mot_detections(tmp_path / "det.txt"), dets.astype({"h": float}))


def test_writer_rejects_missing_and_non_numeric_values(tmp_path: Path) -> None:
    tracks = pd.DataFrame({"frame": [1], "id": [1], "x": [1.0], "y": [1.0], "w": [1.0], "h": [1.0]})
    with pytest.raises(InputError) as caught:
        write_mot_tracker_file(tmp_path / "t.txt", tracks)
    assert caught.value.field == "conf"
    with pytest.raises(InputError, match="non-numeric") as caught:
        write_mot_tracker_file(tmp_path / "t.txt", tracks.assign(conf=["high"]))
    assert not (tmp_path / "t.txt").exists()


def test_sequence_folder_resolves_to_gt_file(tmp_path: Path) -> None:
    (tmp_path / "MOT-01" / "gt").mkdir(parents=True)
    gt_file = _write(tmp_path / "MOT-01" / "gt" / "gt.txt", "1,1,1,1,1,1\n")
    assert mot_gt_path(tmp_path / "MOT-01") == gt_file
    assert mot_gt_path(gt_file) == gt_file
    with pytest.raises(InputError, match=r"gt/gt\.txt"):
        mot_gt_path(tmp_path)


def test_large_file_takes_the_fast_path_and_matches_the_line_reader(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 5000
    values = np.column_stack(
        [np.repeat(np.arange(1, 501), 10), np.tile(np.arange(1, 11), 500), rng.uniform(0, 1000, (n, 4)).round(2)]
    )
    text = "\n".join(",".join(f"{v:g}" for v in row) + ",1,1,1" for row in values)
    fast = read_mot_gt(_write(tmp_path / "fast.txt", text + "\n"))
    tolerant = read_mot_gt(_write(tmp_path / "slow.txt", text.replace(",", ", ") + "\n"))
    pd.testing.assert_frame_equal(fast, tolerant)
    assert len(fast) == n


def test_detections_round_trip_with_classes_and_embeddings(tmp_path: Path) -> None:
    dets = pd.DataFrame(
        {
            "frame": [1, 1, 2],
            "x": [10.0, 50.0, 11.0],
            "y": [20.0, 20.0, 20.0],
            "w": [30.0, 30.0, 30.0],
            "h": [60.0, 60.0, 60.0],
            "conf": [0.9, 0.4, 0.8],
            "cls": [0, 2, 0],
            "emb_0": [0.6, -1.0, 0.5],
            "emb_1": [0.8, 0.0, 0.5],
        }
    )
    write_mot_detections(tmp_path / "det.txt", dets)
    assert (tmp_path / "det.txt").read_text().splitlines()[1] == "1,-1,50,20,30,60,0.4,2,-1,-1,-1,0"
    pd.testing.assert_frame_equal(read_mot_detections(tmp_path / "det.txt"), dets)
    # MOT's own files: -1 in column 8 on every row is "no class"; 10 columns, no embedding.
    plain = read_mot_detections(_write(tmp_path / "d.txt", "1,-1,10,20,30,60,0.4,-1,-1,-1\n"))
    assert list(plain.columns) == ["frame", "x", "y", "w", "h", "conf"]


def test_detection_extensions_are_checked_line_by_line(tmp_path: Path) -> None:
    mixed = _write(tmp_path / "d.txt", "1,-1,10,20,30,60,0.4,1,-1,-1\n2,-1,10,20,30,60,0.4,-1,-1,-1\n")
    with pytest.raises(InputError, match="class must be an integer >= 0") as caught:
        read_mot_detections(mixed)
    assert (caught.value.row, caught.value.field) == (2, "cls")
    ragged = _write(tmp_path / "e.txt", "1,-1,10,20,30,60,0.4,1,-1,-1,0.1,0.2\n2,-1,10,20,30,60,0.4,1,-1,-1,0.1\n")
    with pytest.raises(InputError, match="11 fields, but the file's first row has 12") as caught:
        read_mot_detections(ragged)
    assert caught.value.row == 2
    bad = _write(tmp_path / "f.txt", "1,-1,10,20,30,60,0.4,1,-1,-1,0.1,nan\n")
    with pytest.raises(InputError) as caught:
        read_mot_detections(bad)
    assert (caught.value.row, caught.value.field) == (1, "emb_1")
    no_area = _write(tmp_path / "g.txt", "1,-1,10,20,30,60,0.4\n1,-1,10,20,30,0,0.4\n")
    assert len(read_mot_detections(no_area)) == 2  # harmless to cleaning, which only measures overlaps ...
    with pytest.raises(InputError, match="box height must be > 0") as caught:
        read_mot_detections(no_area, for_tracker=True)  # ... but a track cannot follow a box of no area
    assert (caught.value.row, caught.value.field) == (2, "h")
