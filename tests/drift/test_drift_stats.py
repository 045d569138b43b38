"""match_statistics on hand-made tables: every number below is worked out by hand in the comments."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cvops.catalog import TABLES, Manifests
from cvops.drift import MatchStatistics, freshness_days, match_statistics, prediction_source_of
from cvops.errors import InputError

KICKOFF = pd.Timestamp("2026-01-01T15:00:00Z")


def _tracks() -> pd.DataFrame:
    rows = [
        # frame 1: two players and a goalkeeper count; the referee and the ball do not.
        (1, 1, "player", 10.0, 20.0),
        (1, 2, "player", 20.0, 40.0),
        (1, 3, "goalkeeper", 30.0, 60.0),
        (1, 4, "referee", 99.0, 99.0),
        (1, 5, "ball", 5.0, 5.0),
        # frame 2: one player; frame 3: nobody; frame 4: two players.
        (2, 1, "player", 10.0, 30.0),
        (4, 1, "player", 12.0, 24.0),
        (4, 2, "player", 16.0, 32.0),
    ]
    frame = pd.DataFrame(rows, columns=["frame", "track_id", "role", "w", "h"])
    return frame.assign(x=0.0, y=0.0)


def _statistics(**overrides: object) -> MatchStatistics:
    arguments: dict[str, object] = {
        "cleaned_tracks": _tracks(),
        # Candidates 1, 26, 51, 76, 101: three kept, one dropped by a frame rule, one only because the match
        # is not exported (that one passed the rules: kept share 4 / 5).
        "selected_frames": pd.DataFrame({"frame": [1, 26, 51], "split": "train"}),
        "frame_exclusions": pd.DataFrame({"frame": [76, 101], "reason": ["low_agreement", "match_not_selected"]}),
        # Matched shares 3/4 and 2/2 and 0/2; the frame without labelled players has no share; the unmatched
        # frame has no IoU.
        "frame_agreement": pd.DataFrame(
            {
                "frame": [1, 2, 3, 4],
                "n_labels": [4, 2, 0, 2],
                "n_matched": [3, 2, 0, 0],
                "mean_iou": [0.7, 0.9, np.nan, np.nan],
            }
        ),
        "prediction_source": "det.txt",
        "n_frames": 4,
        "kickoff": KICKOFF,
        "annotated_at": KICKOFF + pd.Timedelta(hours=36),
    }
    arguments.update(overrides)
    return match_statistics("m1", **arguments)  # type: ignore[arg-type]


def test_statistics_of_a_hand_made_match() -> None:
    stats = _statistics()
    players = stats.distributions["players_per_frame"]
    assert sorted(players.sample) == [0, 1, 2, 3]  # frames 3, 2, 4, 1
    assert (players.n, players.mean, players.median) == (4, 1.5, 1.5)

    # Player boxes (w x h): 10x20, 20x40, 30x60, 10x30, 12x24, 16x32.
    heights = stats.distributions["box_height"]
    assert stats.n_player_boxes == 6
    assert sorted(heights.sample) == [20, 24, 30, 32, 40, 60]
    assert heights.median == 31.0 and heights.mean == pytest.approx(206 / 6)
    assert stats.distributions["box_width"].median == 14.0  # (12 + 16) / 2
    assert sorted(stats.distributions["box_area"].sample) == [200, 288, 300, 512, 800, 1800]

    assert sorted(stats.distributions["matched_share"].sample) == [0.0, 0.75, 1.0]
    assert stats.distributions["mean_iou"].median == pytest.approx(0.8)
    assert stats.agreement_frames == 3

    assert (stats.candidate_frames, stats.kept_frames, stats.kept_share) == (5, 4, 0.8)
    assert stats.freshness_days == 1.5
    assert stats.prediction_source == "det.txt"


def test_frames_without_players_count_only_when_the_video_length_is_known() -> None:
    assert sorted(_statistics(n_frames=6).sample("players_per_frame")) == [0, 0, 0, 1, 2, 3]
    assert sorted(_statistics(n_frames=None).sample("players_per_frame")) == [1, 2, 3]


def test_freshness() -> None:
    assert freshness_days(KICKOFF, KICKOFF + pd.Timedelta(days=10, hours=12)) == 10.5
    assert math.isnan(freshness_days(None, KICKOFF))
    assert math.isnan(freshness_days(pd.NaT, KICKOFF))  # an unknown kickoff read from the catalog
    # A naive time (hand-made data) is read as UTC rather than failing to subtract.
    assert freshness_days(pd.Timestamp("2026-01-01T15:00:00"), KICKOFF + pd.Timedelta(days=2)) == 2.0
    assert math.isnan(_statistics(kickoff=None).freshness_days)


def test_prediction_source_of() -> None:
    assert prediction_source_of(pd.DataFrame({"frame": [1, 2], "source": ["det.txt", "det.txt"]})) == "det.txt"
    no_rows = pd.DataFrame({"frame": pd.Series(dtype="int64"), "source": pd.Series(dtype="str")})
    assert prediction_source_of(no_rows) == "none"
    assert prediction_source_of(pd.DataFrame()) == "none"


def test_samples_are_capped_deterministic_and_keep_boxes_together() -> None:
    n_frames = 500
    tracks = pd.DataFrame(
        {
            "frame": np.repeat(np.arange(1, n_frames + 1), 3),
            "track_id": np.tile([1, 2, 3], n_frames),
            "role": "player",
            "w": np.arange(3 * n_frames, dtype=float) + 1,
            "h": 2 * np.arange(3 * n_frames, dtype=float) + 2,
        }
    )
    first = _statistics(cleaned_tracks=tracks, n_frames=n_frames, max_samples=50)
    again = _statistics(cleaned_tracks=tracks, n_frames=n_frames, max_samples=50)
    width, height, area = (first.sample(n) for n in ("box_width", "box_height", "box_area"))
    assert len(width) == 50 and first.distributions["box_width"].n == 1500
    np.testing.assert_array_equal(width, again.sample("box_width"))
    np.testing.assert_array_equal(height, 2 * width)  # the same boxes in every box statistic
    np.testing.assert_array_equal(area, width * height)
    assert len(np.unique(width)) == 50  # drawn without replacement
    assert not np.all(np.diff(width) > 0)  # in random order: any prefix is a random subsample
    # The full data's centre, not the sample's.
    assert first.distributions["box_width"].median == 750.5
    other_match = match_statistics(
        "m2",
        cleaned_tracks=tracks,
        selected_frames=pd.DataFrame({"frame": []}),
        frame_exclusions=pd.DataFrame({"frame": [], "reason": []}),
        frame_agreement=pd.DataFrame({"frame": [], "n_labels": [], "n_matched": [], "mean_iou": []}),
        max_samples=50,
    )
    assert not np.array_equal(other_match.sample("box_width"), width)  # each match has its own draw


def test_empty_tables_give_empty_distributions() -> None:
    stats = match_statistics(
        "empty",
        cleaned_tracks=pd.DataFrame({"frame": [], "role": [], "w": [], "h": []}),
        selected_frames=pd.DataFrame({"frame": []}),
        frame_exclusions=pd.DataFrame({"frame": [], "reason": []}),
        frame_agreement=pd.DataFrame({"frame": [], "n_labels": [], "n_matched": [], "mean_iou": []}),
    )
    assert stats.n_player_boxes == 0 and stats.candidate_frames == 0
    assert math.isnan(stats.kept_share) and math.isnan(stats.freshness_days)
    for dist in stats.distributions.values():
        assert dist.n == 0 and len(dist.sample) == 0 and math.isnan(dist.median)
    assert stats.prediction_source == "none"


def test_a_table_without_its_columns_is_named() -> None:
    with pytest.raises(InputError, match=r"frame_agreement lacks column.*n_matched") as error:
        _statistics(frame_agreement=pd.DataFrame({"frame": [1], "n_labels": [2], "mean_iou": [0.5]}))
    assert error.value.match_id == "m1" and error.value.field == "n_matched"
    with pytest.raises(InputError, match="max_samples"):
        _statistics(max_samples=0)


def test_row_round_trips_through_the_catalog_table(tmp_path: Path) -> None:
    manifests = Manifests(tmp_path)
    stats = _statistics()
    empty = _statistics(kickoff=None, cleaned_tracks=_tracks().iloc[0:0])
    manifests.write("match_statistics", stats.as_frame(), "m1")
    manifests.write("match_statistics", empty.as_frame().assign(match_id="m2"), "m2")
    table = manifests.read("match_statistics")
    assert list(table.columns) == TABLES["match_statistics"].columns
    back = {row["match_id"]: MatchStatistics.from_row(row) for row in table.to_dict("records")}
    assert back["m1"].as_row().keys() == stats.as_row().keys()
    for key, value in stats.as_row().items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(back["m1"].as_row()[key], value)
        else:
            assert back["m1"].as_row()[key] == value, key
    assert math.isnan(back["m2"].freshness_days) and back["m2"].n_player_boxes == 0
    assert len(back["m2"].sample("box_height")) == 0


def test_catalog_schema_covers_every_distribution() -> None:
    from cvops.drift.stats import DISTRIBUTIONS

    names = TABLES["match_statistics"].schema.names
    assert [n.removesuffix("_sample") for n in names if n.endswith("_sample")] == list(DISTRIBUTIONS)
