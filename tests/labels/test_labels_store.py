from pathlib import Path

import pandas as pd
import pytest

from cvops.errors import InputError
from cvops.labels import KEYFRAME_COLUMNS, LabelStore, validate_match_id
from tests.factories import match_row, player_keyframes, write_csv, write_store


def test_reads_valid_matches_with_types(small_store: Path) -> None:
    table = LabelStore(small_store).read_matches()
    assert table.errors == []
    assert sorted(table.matches) == ["m0001", "m0002", "m0003", "m0004"]
    assert [m.match_id for m in table.annotated()] == ["m0001", "m0002", "m0003"]
    record = table.matches["m0001"]
    assert (record.width, record.height, record.n_frames, record.fps) == (640, 360, 50, 25)
    assert record.annotated_at == pd.Timestamp("2026-02-03T10:00:00Z")
    frame = table.to_frame()
    assert list(frame.columns)[:3] == ["match_id", "video", "fps"]


def test_fractional_fps_is_exact(tmp_path: Path) -> None:
    store = write_store(tmp_path, [match_row("a", fps="30000/1001")], {})
    assert str(LabelStore(store).read_matches().matches["a"].fps) == "30000/1001"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"match_id": "../etc"}, "match_id", "invalid match id"),
        ({"n_frames": "many"}, "n_frames", "positive integer"),
        ({"width": "-3"}, "width", "positive integer"),
        ({"fps": "0"}, "fps", "positive"),
        ({"status": "done"}, "status", "annotated, in_progress"),
        ({"annotated_at": "yesterday"}, "annotated_at", "ISO-8601"),
        ({"video": "../../secret.mp4"}, "video", "escapes the label store"),
        ({"video": "file:///etc/passwd"}, "video", "unsupported URL scheme"),
    ],
)
def test_bad_row_is_skipped_with_file_row_and_field(tmp_path: Path, overrides, field: str, message: str) -> None:
    store = write_store(tmp_path / "s", [match_row("good"), match_row("bad", **overrides)], {})
    table = LabelStore(store).read_matches()
    assert list(table.matches) == ["good"]
    (error,) = table.errors
    assert (error.row, error.field) == (3, field)
    assert message in str(error) and "matches.csv" in str(error) and "row 3" in str(error)


def test_duplicate_match_ids_reject_every_copy(tmp_path: Path) -> None:
    store = write_store(tmp_path, [match_row("a"), match_row("b"), match_row("a")], {})
    table = LabelStore(store).read_matches()
    assert list(table.matches) == ["b"]
    assert [e.row for e in table.errors] == [2, 4]
    assert "duplicate match id 'a' (also on row 4)" in str(table.errors[0])


def test_missing_file_or_column_is_fatal(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"matches\.csv: file not found"):
        LabelStore(tmp_path).read_matches()
    write_csv(tmp_path / "matches.csv", ["match_id", "video"], [{"match_id": "a", "video": "v.mp4"}])
    with pytest.raises(InputError, match=r"row 1, field 'fps': missing column\(s\) fps"):
        LabelStore(tmp_path).read_matches()


def test_keyframes_are_typed(small_store: Path) -> None:
    keyframes = LabelStore(small_store).read_keyframes("m0001")
    assert list(keyframes.columns) == [*KEYFRAME_COLUMNS, "outside", "occluded"]
    assert not keyframes["outside"].any() and not keyframes["occluded"].any()  # a version-1 file has neither
    assert keyframes.dtypes["frame"] == "int64" and keyframes.dtypes["x"] == "float64"
    assert len(keyframes) == len(player_keyframes())


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("x", "left", "expected a finite number, got 'left'"),
        ("y", "", "missing value"),
        ("h", "nan", "expected a finite number"),
        ("w", "-4", "box size must be positive"),
        ("frame", "2.5", "expected an integer"),
        ("frame", "0", "frames are 1-based"),
        ("role", "coach", "unknown role 'coach'"),
    ],
)
def test_bad_keyframe_names_file_row_and_field(tmp_path: Path, column: str, value: str, message: str) -> None:
    rows = player_keyframes(2)
    rows[3][column] = value
    store = write_store(tmp_path, [match_row("m1")], {"m1": rows})
    with pytest.raises(InputError) as caught:
        LabelStore(store).read_keyframes("m1")
    error = caught.value
    assert (error.row, error.field, error.match_id) == (5, column, "m1")
    assert message in str(error) and str(Path("m1") / "keyframes.csv") in str(error)


def test_keyframes_missing_column(tmp_path: Path) -> None:
    write_csv(tmp_path / "m1" / "keyframes.csv", ["frame", "track_id"], [{"frame": 1, "track_id": 1}])
    with pytest.raises(InputError, match="missing column"):
        LabelStore(tmp_path).read_keyframes("m1")


def test_match_id_rule() -> None:
    assert validate_match_id("A-b_9") == "A-b_9"
    for bad in ("", "_x", "a/b", "a" * 65, "é"):
        with pytest.raises(InputError):
            validate_match_id(bad)


def test_video_location_resolves_inside_store(small_store: Path) -> None:
    store = LabelStore(small_store)
    record = store.read_matches().matches["m0001"]
    assert store.video_location(record) == str((small_store / "videos" / "m0001.mp4").resolve())
