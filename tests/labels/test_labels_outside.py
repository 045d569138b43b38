"""Schema version 2 of the label store: outside and occluded keyframes, and interpolation that never crosses an
exit."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cvops.errors import InputError
from cvops.labels import LabelStore, interpolate_keyframes
from tests.factories import match_row, write_csv, write_store

COLUMNS = ["frame", "track_id", "role", "x", "y", "w", "h", "outside", "occluded"]


def _store(tmp_path: Path, rows: list[dict]) -> LabelStore:
    write_store(tmp_path, [match_row("m1")], {})
    write_csv(tmp_path / "m1" / "keyframes.csv", COLUMNS, rows)
    return LabelStore(tmp_path)


def _row(frame, outside=0, x=0.0, occluded=0, track=1, **box):
    return (
        {"frame": frame, "track_id": track, "role": "player", "x": x, "y": 5, "w": 10, "h": 20}
        | box
        | {
            "outside": outside,
            "occluded": occluded,
        }
    )


def test_an_exit_is_never_interpolated() -> None:
    # Shown on 1..9 moving right, out of the picture from 10, back at 30: no box on 10..29 (no ghost).
    keyframes = pd.DataFrame(
        [
            (1, 7, "player", 0, 0, 10, 20, False),
            (9, 7, "player", 80, 0, 10, 20, False),
            (10, 7, "player", np.nan, np.nan, np.nan, np.nan, True),
            (30, 7, "player", 200, 0, 10, 20, False),
            (32, 7, "player", 220, 0, 10, 20, False),
        ],
        columns=["frame", "track_id", "role", "x", "y", "w", "h", "outside"],
    )
    labels = interpolate_keyframes(keyframes)
    assert labels["frame"].tolist() == [*range(1, 10), 30, 31, 32]
    np.testing.assert_allclose(labels["x"][:9], np.arange(0, 90, 10))
    assert labels["is_keyframe"].tolist() == [True, *[False] * 7, True, True, False, True]


def test_an_outside_box_is_where_cvat_interpolates_to() -> None:
    # CVAT gives outside keyframes a box: the frames before it move towards it, as CVAT draws them.
    keyframes = pd.DataFrame(
        [(1, 1, "player", 0, 0, 10, 20, False), (5, 1, "player", 40, 0, 10, 20, True)],
        columns=["frame", "track_id", "role", "x", "y", "w", "h", "outside"],
    )
    labels = interpolate_keyframes(keyframes)
    assert labels["frame"].tolist() == [1, 2, 3, 4]
    np.testing.assert_allclose(labels["x"], [0, 10, 20, 30])


def test_without_outside_the_ghost_rule_still_sees_its_span() -> None:
    keyframes = pd.DataFrame(
        [(1, 1, "player", 0, 0, 10, 20), (50, 1, "player", 40, 0, 10, 20)],
        columns=["frame", "track_id", "role", "x", "y", "w", "h"],
    )
    assert len(interpolate_keyframes(keyframes)) == 50


def test_version_2_store_reads_flags_and_boxless_exits(tmp_path: Path) -> None:
    store = _store(
        tmp_path,
        [_row(1), _row(5, occluded=1, x=4), _row(6, outside=1, x="", y="", w="", h=""), _row(20, x=9)],
    )
    keyframes = store.read_keyframes("m1")
    assert keyframes["outside"].tolist() == [False, False, True, False]
    assert keyframes["occluded"].tolist() == [False, True, False, False]
    assert np.isnan(keyframes.loc[2, ["x", "y", "w", "h"]].to_numpy(dtype=float)).all()
    assert interpolate_keyframes(keyframes)["frame"].tolist() == [1, 2, 3, 4, 5, 20]


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        (_row(6, outside="yes"), "outside", "expected 0 or 1, got 'yes'"),
        (_row(6, outside=1, x="", y=""), "x", "all four of x, y, w, h or none"),
        (_row(6, outside=0, x="", y="", w="", h=""), "x", "missing value"),
        (_row(6, outside=1, w=-1), "w", "box size must be positive"),
    ],
)
def test_bad_flags_and_boxes_name_row_and_field(tmp_path: Path, row: dict, field: str, message: str) -> None:
    store = _store(tmp_path, [_row(1), row])
    with pytest.raises(InputError) as caught:
        store.read_keyframes("m1")
    assert (caught.value.row, caught.value.field) == (3, field)
    assert message in str(caught.value)


def test_schema_version_is_declared_and_newer_stores_are_refused(tmp_path: Path) -> None:
    store = LabelStore(write_store(tmp_path, [match_row("m1")], {}))
    assert store.schema_version() == 1  # a store without label-store.json: the layout before version 2
    store.upsert_match_rows([{k: str(v) for k, v in match_row("m2").items()}])
    assert json.loads(store.schema_file.read_text()) == {"schema_version": 2}
    assert sorted(store.read_matches().matches) == ["m1", "m2"]
    store.schema_file.write_text('{"schema_version": 3}')
    with pytest.raises(InputError, match="schema version 3; this cvops reads versions 1 to 2"):
        store.read_matches()
    store.schema_file.write_text("[]")
    with pytest.raises(InputError, match=r"label-store\.json, field 'schema_version'"):
        store.read_matches()


def test_write_keyframes_round_trips_the_flags(tmp_path: Path) -> None:
    store = _store(tmp_path, [_row(1), _row(4, occluded=1), _row(6, outside=1, x="", y="", w="", h="")])
    keyframes = store.read_keyframes("m1")
    store.write_keyframes("m1", keyframes)
    text = (tmp_path / "m1" / "keyframes.csv").read_text().splitlines()
    assert text[0] == ",".join(COLUMNS) and text[3].endswith(",,,,1,0")
    pd.testing.assert_frame_equal(store.read_keyframes("m1"), keyframes)
    store.write_keyframes("m1", keyframes.drop(columns=["outside", "occluded"]).iloc[:2])
    assert (tmp_path / "m1" / "keyframes.csv").read_text().splitlines()[0] == "frame,track_id,role,x,y,w,h"
