"""compare_to_reference: quiet on matches like the reference, loud on shifted ones, honest about small data."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from cvops.catalog import Manifests
from cvops.drift import (
    DISTRIBUTIONS,
    REPORT_NO_REFERENCE,
    SCALARS,
    STATUS_DRIFT,
    STATUS_OK,
    STATUS_SKIPPED,
    DriftConfig,
    compare_to_reference,
)
from cvops.errors import InputError
from tests.drift.drift_factories import NORMAL, MatchShape, reference, statistics


@pytest.fixture(scope="module")
def ref() -> list:
    return reference(8)


def _verdicts(report) -> dict[str, str]:
    return {f.statistic: f.status for f in report.findings}


def test_matches_drawn_like_the_reference_raise_no_alarm(ref) -> None:
    # 20 matches from the reference's own distribution, 8 statistics each: 160 chances to raise a false alarm.
    reports = [compare_to_reference(statistics(f"new{seed}", seed), ref) for seed in range(20)]
    false_alarms = [f.message for r in reports for f in r.drifted]
    assert len(false_alarms) <= 1, false_alarms
    assert all(r.status in (STATUS_OK, STATUS_DRIFT) and not r.skipped for r in reports)
    assert "in line with 8 reference matches" in reports[0].message


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        (replace(NORMAL, box_height=52.0), {"box_width", "box_height", "box_area"}),  # boxes 30% larger
        (replace(NORMAL, players=11), {"players_per_frame"}),  # half the players
        (replace(NORMAL, miss_rate=0.6), {"matched_share"}),  # agreement collapsed
        (replace(NORMAL, drop_share=0.7), {"kept_share"}),  # most candidate frames dropped
        (replace(NORMAL, delay_days=200.0), {"freshness_days"}),  # labels of a match played months ago
    ],
    ids=["boxes_30pct_larger", "half_the_players", "agreement_collapsed", "frames_dropped", "old_labels"],
)
def test_shifted_matches_are_flagged(ref, shape: MatchShape, expected: set[str]) -> None:
    report = compare_to_reference(statistics("shifted", 7, shape), ref)
    flagged = {f.statistic for f in report.drifted}
    assert expected <= flagged
    assert report.status == STATUS_DRIFT
    for finding in report.drifted:
        assert "departs from the reference" in finding.message
        assert finding.effect >= finding.threshold
        assert np.isnan(finding.p_value) or finding.p_value < report.config.alpha
    assert all(name in report.message for name in expected)


def test_flagged_boxes_say_how_far_they_moved(ref) -> None:
    report = compare_to_reference(statistics("big", 7, replace(NORMAL, box_height=52.0)), ref)
    (height,) = [f for f in report.findings if f.statistic == "box_height"]
    assert height.test == "ks_2samp" and height.p_value < 1e-10
    assert height.match_value / height.reference_value == pytest.approx(1.3, abs=0.05)
    assert "+3" in height.message and "px" in height.message  # "+30%" give or take the sampling


def test_fresher_labels_are_not_drift(ref) -> None:
    report = compare_to_reference(statistics("fresh", 7, replace(NORMAL, delay_days=0.1)), ref)
    assert _verdicts(report)["freshness_days"] == STATUS_OK


def test_without_enough_reference_matches_nothing_is_tested() -> None:
    match = statistics("first", 1)
    for reference_matches in ([], reference(2)):
        report = compare_to_reference(match, reference_matches)
        assert report.status == REPORT_NO_REFERENCE and not report.drifted
        assert report.message.startswith("no reference yet")
        assert f"{len(reference_matches)} other match(es)" in report.message
        assert {f.status for f in report.findings} == {STATUS_SKIPPED}
        assert {f.statistic for f in report.findings} == {*DISTRIBUTIONS, *SCALARS}


def test_the_match_itself_is_never_its_own_reference(ref) -> None:
    match = statistics("self", 3)
    report = compare_to_reference(match, [match, *ref[:2]])
    assert report.status == REPORT_NO_REFERENCE and report.reference_ids == ("ref00", "ref01")


def test_effect_size_guard_ignores_tiny_shifts_of_huge_samples() -> None:
    # Boxes 3% larger, 20000 values per match: the KS test is certain the distributions differ.
    big = replace(NORMAL, n_frames=4000)
    ref = [statistics(f"ref{i}", 100 + i, big, max_samples=20_000) for i in range(4)]
    match = statistics("tiny_shift", 9, replace(big, box_height=41.2), max_samples=20_000)
    report = compare_to_reference(match, ref)
    (height,) = [f for f in report.findings if f.statistic == "box_height"]
    assert height.p_value < 1e-6 and height.effect < 0.1
    assert height.status == STATUS_OK and "significant" in height.message and "but small" in height.message
    # Without the guard (no minimum effect, no calibration) the same data would be flagged.
    unguarded = DriftConfig(min_ks_statistic=0.0)
    assert compare_to_reference(match, ref, unguarded).findings[2].status == STATUS_DRIFT


def test_a_match_like_one_reference_match_is_not_new() -> None:
    # Two stadiums whose cameras give boxes of 30 and 60 px. A new match at either one differs from the mixture
    # of both, but not from the matches of its own stadium: not news.
    ref = [statistics(f"ref{i}", 200 + i, replace(NORMAL, box_height=(30.0, 60.0)[i % 2])) for i in range(8)]
    usual = statistics("usual", 5, replace(NORMAL, box_height=60.0))
    (height,) = [f for f in compare_to_reference(usual, ref).findings if f.statistic == "box_height"]
    assert height.status == STATUS_OK and height.effect > 0.25 and height.p_value < 1e-10
    assert height.nearest_match in {"ref1", "ref3", "ref5", "ref7"} and height.nearest_effect < 0.1
    assert f"but like reference match {height.nearest_match}" in height.message
    # Without the guard, the pooled test alone would flag it; a third, far bigger camera is flagged either way.
    unguarded = compare_to_reference(usual, ref, DriftConfig(nearest_guard=False))
    assert _verdicts(unguarded)["box_height"] == STATUS_DRIFT
    far = compare_to_reference(statistics("far", 5, replace(NORMAL, box_height=100.0)), ref)
    (height,) = [f for f in far.findings if f.statistic == "box_height"]
    assert height.drifted and height.nearest_effect >= 0.2 and "closest reference match" in height.message


def test_agreement_is_compared_only_between_the_same_prediction_source(ref) -> None:
    model = compare_to_reference(statistics("model", 4, replace(NORMAL, source="model:v3", miss_rate=0.6)), ref)
    verdicts = _verdicts(model)
    assert verdicts["matched_share"] == verdicts["mean_iou"] == STATUS_SKIPPED
    (share,) = [f for f in model.findings if f.statistic == "matched_share"]
    assert "with predictions from model:v3" in share.message
    assert verdicts["box_height"] == STATUS_OK  # the labels themselves are still compared

    unjudged = compare_to_reference(statistics("nopred", 4, replace(NORMAL, source="none")), ref)
    (share,) = [f for f in unjudged.findings if f.statistic == "matched_share"]
    assert share.status == STATUS_SKIPPED and "no predictions" in share.message


def test_too_few_values_are_not_a_distribution(ref) -> None:
    short = compare_to_reference(statistics("short", 4, replace(NORMAL, n_frames=10, frame_step=1000)), ref)
    verdicts = _verdicts(short)
    assert verdicts["players_per_frame"] == STATUS_SKIPPED  # 10 frames < min_samples (30)
    assert verdicts["box_height"] == STATUS_OK  # ~220 boxes are enough
    (players,) = [f for f in short.findings if f.statistic == "players_per_frame"]
    assert "only 10 value(s)" in players.message
    assert "not tested" in short.message


def test_findings_are_stored_as_catalog_rows(ref, tmp_path: Path) -> None:
    import pandas as pd

    report = compare_to_reference(statistics("big", 7, replace(NORMAL, box_height=52.0)), ref)
    manifests = Manifests(tmp_path)
    manifests.write("match_drift", report.as_frame(pd.Timestamp("2026-03-01T00:00:00Z")), "big")
    rows = manifests.read("match_drift", "big").set_index("statistic")
    assert len(rows) == len(DISTRIBUTIONS) + len(SCALARS)
    assert bool(rows.loc["box_height", "drifted"]) and rows.loc["box_height", "test"] == "ks_2samp"
    assert rows.loc["freshness_days", "test"] == "robust_z" and np.isnan(rows.loc["freshness_days", "p_value"])
    table = report.markdown()
    assert table.splitlines()[2].startswith("| box_") and "**drift**" in table.splitlines()[2]


def test_config_is_validated() -> None:
    with pytest.raises(InputError, match="alpha"):
        DriftConfig(alpha=1.5)
    with pytest.raises(InputError, match="min_ks_statistic"):
        DriftConfig(min_ks_statistic=2.0)
    with pytest.raises(InputError, match="min_reference_matches"):
        DriftConfig(min_reference_matches=0)
