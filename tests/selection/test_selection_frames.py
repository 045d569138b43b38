"""Frame selection: candidates, player-count and agreement rules, and the match's split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cvops.errors import InputError
from cvops.selection import EXCLUSION_REASONS, FrameSelectionConfig, candidate_frames, select_frames


def tracks(players_per_frame: dict[int, int], referee: bool = True) -> pd.DataFrame:
    rows = []
    for frame, n in players_per_frame.items():
        rows += [(frame, t, "player") for t in range(n)]
        if referee:
            rows.append((frame, 99, "referee"))
    df = pd.DataFrame(rows, columns=["frame", "track_id", "role"])
    return df.assign(match_id="m1", x=0.0, y=0.0, w=10.0, h=20.0)


def agreement(rows: list[tuple[int, int, int, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["frame", "n_labels", "n_matched", "mean_iou"]).assign(match_id="m1")


CONFIG = FrameSelectionConfig(frame_step=10, min_players=4, max_players=6, min_matched_share=0.5, min_mean_iou=0.6)


def test_candidates_follow_step_and_range_clipped_to_the_video():
    assert candidate_frames(35, FrameSelectionConfig(frame_step=10)).tolist() == [1, 11, 21, 31]
    config = FrameSelectionConfig(frame_step=5, first_frame=3, last_frame=100)
    assert candidate_frames(20, config).tolist() == [3, 8, 13, 18]


def test_each_rule_drops_its_frames_with_its_reason():
    labels = tracks({1: 5, 11: 3, 21: 7, 31: 5, 41: 5, 51: 5})
    agree = agreement([(1, 5, 5, 0.8), (31, 5, 2, 0.8), (41, 5, 5, 0.55), (51, 5, 3, 0.7)])
    result = select_frames("m1", labels, agree, n_frames=60, split="train", config=CONFIG)
    assert result.selected["frame"].tolist() == [1, 51]
    assert set(result.selected["split"]) == {"train"}
    assert dict(zip(result.exclusions["frame"], result.exclusions["reason"], strict=True)) == {
        11: "too_few_players",
        21: "too_many_players",
        31: "low_agreement",
        41: "low_iou",
    }
    assert result.summary["candidates"] == 6
    assert result.summary["selected"] == 2
    assert result.summary["excluded_by_reason"]["low_agreement"] == 1
    assert list(result.selected.columns) == ["match_id", "frame", "split"]
    assert list(result.exclusions.columns) == ["match_id", "frame", "reason"]


def test_referees_do_not_count_as_players_and_empty_frames_are_too_few():
    labels = tracks({1: 3})
    result = select_frames("m1", labels, agreement([]), n_frames=20, split="val", config=CONFIG)
    assert result.exclusions["reason"].tolist() == ["too_few_players", "too_few_players"]


def test_frames_without_predictions_are_kept_unless_agreement_is_required():
    labels = tracks({1: 5, 11: 5})
    kept = select_frames("m1", labels, agreement([(1, 5, 5, 0.9)]), n_frames=20, split="train", config=CONFIG)
    assert kept.selected["frame"].tolist() == [1, 11]
    assert "1 of 2 candidate frames have no predictions" in kept.summary["messages"][0]
    strict = FrameSelectionConfig(**{**CONFIG.__dict__, "require_agreement": True})
    dropped = select_frames("m1", labels, agreement([(1, 5, 5, 0.9)]), n_frames=20, split="train", config=strict)
    assert dropped.exclusions["reason"].tolist() == ["no_agreement"]


def test_an_unselected_match_exports_nothing_but_frame_rules_still_name_the_first_reason():
    labels = tracks({1: 5, 11: 2})
    result = select_frames("m1", labels, agreement([]), n_frames=20, split=None, config=CONFIG)
    assert result.selected.empty
    assert result.exclusions["reason"].tolist() == ["match_not_selected", "too_few_players"]


def test_a_match_without_labels_has_every_candidate_excluded():
    empty = tracks({})
    result = select_frames("m1", empty, agreement([]), n_frames=30, split="train", config=CONFIG)
    assert result.selected.empty
    assert len(result.exclusions) == 3


def test_reason_order_is_public_and_complete():
    assert EXCLUSION_REASONS[0] == "too_few_players"
    assert set(EXCLUSION_REASONS) >= {"too_few_players", "too_many_players", "low_agreement", "match_not_selected"}


@pytest.mark.parametrize(
    "kwargs", [{"frame_step": 0}, {"first_frame": 0}, {"first_frame": 10, "last_frame": 5}, {"min_players": 30}]
)
def test_bad_configs_are_rejected(kwargs):
    with pytest.raises(InputError):
        FrameSelectionConfig(**kwargs)


def test_selection_is_deterministic():
    rng = np.random.default_rng(0)
    labels = tracks({f: int(rng.integers(3, 8)) for f in range(1, 200)})
    first = select_frames("m1", labels, agreement([]), n_frames=200, split="val", config=CONFIG)
    second = select_frames("m1", labels, agreement([]), n_frames=200, split="val", config=CONFIG)
    pd.testing.assert_frame_equal(first.selected, second.selected)
    pd.testing.assert_frame_equal(first.exclusions, second.exclusions)
