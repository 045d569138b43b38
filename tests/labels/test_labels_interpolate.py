import numpy as np
import pandas as pd
import pytest

from cvops.errors import InputError
from cvops.labels import interpolate_keyframes


def _keyframes(rows):
    return pd.DataFrame(rows, columns=["frame", "track_id", "role", "x", "y", "w", "h"])


def test_linear_between_keyframes_as_the_product_does() -> None:
    labels = interpolate_keyframes(_keyframes([(1, 7, "player", 0, 10, 10, 20), (5, 7, "player", 40, 30, 14, 20)]))
    assert labels["frame"].tolist() == [1, 2, 3, 4, 5]
    np.testing.assert_allclose(labels["x"], [0, 10, 20, 30, 40])
    np.testing.assert_allclose(labels["y"], [10, 15, 20, 25, 30])
    np.testing.assert_allclose(labels["w"], [10, 11, 12, 13, 14])
    assert labels["is_keyframe"].tolist() == [True, False, False, False, True]


def test_ghost_spans_are_interpolated_too() -> None:
    # A player leaves at frame 10 and comes back at frame 100: the product draws a box all the way between.
    labels = interpolate_keyframes(_keyframes([(10, 1, "player", 0, 0, 5, 5), (100, 1, "player", 90, 0, 5, 5)]))
    assert len(labels) == 91 and labels["is_keyframe"].sum() == 2


def test_tracks_are_independent_and_sorted_by_frame() -> None:
    labels = interpolate_keyframes(
        _keyframes(
            [
                (3, 2, "ball", 0, 0, 2, 2),
                (1, 1, "player", 0, 0, 5, 5),
                (2, 1, "player", 2, 0, 5, 5),
                (4, 2, "ball", 4, 0, 2, 2),
            ]
        )
    )
    assert list(zip(labels["frame"], labels["track_id"], strict=True)) == [(1, 1), (2, 1), (3, 2), (4, 2)]
    assert labels.dtypes["frame"] == "int64"


def test_role_follows_previous_keyframe_and_single_keyframe_track() -> None:
    labels = interpolate_keyframes(
        _keyframes([(1, 1, "other", 0, 0, 5, 5), (3, 1, "player", 0, 0, 5, 5), (9, 4, "referee", 1, 1, 5, 5)])
    )
    assert labels.loc[labels.track_id == 1, "role"].tolist() == ["other", "other", "player"]
    assert labels.loc[labels.track_id == 4, "frame"].tolist() == [9]


def test_duplicate_keyframes_are_refused() -> None:
    with pytest.raises(InputError, match="track 1 has 2 keyframes sharing a frame"):
        interpolate_keyframes(_keyframes([(1, 1, "player", 0, 0, 5, 5), (1, 1, "player", 3, 0, 5, 5)]), match_id="m")


def test_empty_keyframes_give_typed_empty_labels() -> None:
    labels = interpolate_keyframes(_keyframes([]))
    assert labels.empty and labels.dtypes["is_keyframe"] == "bool"
