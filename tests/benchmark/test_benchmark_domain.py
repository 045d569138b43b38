import json

import pandas as pd
import pytest

from cvops.benchmark import (
    BenchmarkError,
    current_generation,
    current_samples,
    decide_promotion,
    invalidate,
    leaderboard,
    update_membership,
    verify_append_only,
)
from cvops.benchmark.membership import empty_membership
from cvops.benchmark.scoring import benchmark_tracker
from cvops.metrics import ErrorWeights, combine, evaluate_sequence
from cvops.tracking import TrackerConfig

T0 = pd.Timestamp("2026-01-01", tz="UTC")


def test_membership_only_grows_and_never_changes() -> None:
    first = update_membership(empty_membership(), ["b", "a"], now=T0)
    assert current_samples(first) == ["a", "b"] and current_generation(first) == 1
    second = update_membership(first, ["a", "c"], now=T0 + pd.Timedelta(days=1))
    assert current_samples(second) == ["a", "b", "c"]
    verify_append_only(first, second)
    # A match that is no longer a validation match stays in the benchmark.
    third = update_membership(second, ["c"], now=T0 + pd.Timedelta(days=2))
    assert third is second

    with pytest.raises(BenchmarkError, match="removed"):
        verify_append_only(second, first)
    tampered = second.copy()
    tampered.loc[0, "match_id"] = "z"
    with pytest.raises(BenchmarkError, match="would change"):
        verify_append_only(second, tampered)


def test_invalidate_starts_a_new_generation_and_keeps_history() -> None:
    members = update_membership(empty_membership(), ["a", "b"], now=T0)
    with pytest.raises(BenchmarkError, match="needs a reason"):
        invalidate(members, "  ")
    renewed = invalidate(members, "labels of a were wrong", now=T0 + pd.Timedelta(days=1))
    verify_append_only(members, renewed)
    assert current_generation(renewed) == 2 and current_samples(renewed) == []
    renewed = update_membership(renewed, ["b"], now=T0 + pd.Timedelta(days=2))
    assert current_samples(renewed) == ["b"]
    assert len(renewed) == 4  # history kept


def _gt(n_frames: int = 10) -> pd.DataFrame:
    rows = [(f, i, 10.0 + 30 * i + f, 50.0, 10.0, 20.0) for f in range(1, n_frames + 1) for i in (1, 2)]
    return pd.DataFrame(rows, columns=["frame", "id", "x", "y", "w", "h"])


def _result(model: str, sample: str, tracker: pd.DataFrame) -> dict:
    metrics = evaluate_sequence(_gt(), tracker)
    return {"model_version": model, "match_id": sample, "stats": json.dumps(metrics.as_dict(with_stats=True))}


def test_leaderboard_compares_models_on_common_samples_only() -> None:
    perfect = _gt().assign(conf=1.0)
    half = perfect[perfect["id"] == 1]  # misses one of two players everywhere
    results = pd.DataFrame(
        [
            _result("m1", "s1", half),
            _result("m1", "s2", half),
            _result("m2", "s1", perfect),
            _result("m2", "s3", perfect),  # not shared with m1: ignored in the comparison
        ]
    )
    board = leaderboard(results, weights=ErrorWeights(fn=1, fp=1, id_switches=5))
    assert board.common_samples == ["s1"]
    assert [r.model_version for r in board.rows] == ["m2", "m1"]
    assert board.error_of("m2") == 0.0
    assert board.error_of("m1") == pytest.approx(0.5)  # 10 misses out of 20 boxes
    assert "1 common samples" in board.markdown()
    # The combined metrics are TrackEval's combination, not an average of per-sample values.
    alone = leaderboard(results, models=["m1"])
    expected = combine([evaluate_sequence(_gt(), half)] * 2)
    assert alone.rows[0].metrics.mota == pytest.approx(expected.mota)
    assert alone.common_samples == ["s1", "s2"]


def test_promotion_decision() -> None:
    perfect = _gt().assign(conf=1.0)
    half = perfect[perfect["id"] == 1]
    results = pd.DataFrame([_result("old", "s1", half), _result("new", "s1", perfect)])
    board = leaderboard(results, models=["new", "old"])
    assert decide_promotion("new", None, board).promote
    better = decide_promotion("new", "old", board)
    assert better.promote and "lower" in better.reason and better.common_samples == 1
    worse = decide_promotion("old", "new", board)
    assert not worse.promote and "not 2% below" in worse.reason
    nothing = decide_promotion("new", "old", leaderboard(results[results.model_version == "new"], models=["new"]))
    assert not nothing.promote and "no benchmark samples" in nothing.reason


def test_the_benchmark_tracks_people_of_any_role_at_the_models_operating_point() -> None:
    tracker = benchmark_tracker(0.3)
    assert (tracker.high_score, tracker.new_track_score) == (0.3, pytest.approx(0.4))
    assert tracker.match_across_classes and tracker.first_stage == "botsort"
    assert benchmark_tracker(None) == TrackerConfig(match_across_classes=True, first_stage="botsort")
