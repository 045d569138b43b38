"""Drift on synthetic matches, through the real cleaning and frame selection.

Seven matches generated alike must each be in line with the six others. Two more are generated with the
same league and seed but a different camera resolution (twice the pixels each way: every box twice as large)
and a much worse detector (half the players missed: agreement collapses), and must be flagged.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from cvops.drift import STATUS_DRIFT, STATUS_OK, MatchStatistics, compare_to_reference
from cvops.synth import SynthConfig, generate_store
from tests.drift.drift_synth import store_statistics

NORMAL = SynthConfig(n_matches=7, seconds=8, width=320, height=180, fps=10, gop=20, seed=3)
HIGH_RESOLUTION = replace(NORMAL, n_matches=1, first_match_index=7, width=640, height=360)
POOR_DETECTOR = replace(NORMAL, n_matches=1, first_match_index=8, det_miss_rate=0.5)

pytestmark = pytest.mark.slow  # generating and cleaning nine matches takes about 6 s


@pytest.fixture(scope="module")
def statistics(tmp_path_factory: pytest.TempPathFactory) -> dict[str, MatchStatistics]:
    root: Path = tmp_path_factory.mktemp("drift_store")
    for config in (NORMAL, HIGH_RESOLUTION, POOR_DETECTOR):
        generate_store(root, config)
    return {s.match_id: s for s in store_statistics(root)}


def _reference(statistics: dict[str, MatchStatistics]) -> list[MatchStatistics]:
    return [statistics[f"m{i:04d}"] for i in range(6)]


def test_normal_synthetic_matches_are_in_line_with_each_other(statistics) -> None:
    normal = [statistics[f"m{i:04d}"] for i in range(7)]
    for match in normal:
        report = compare_to_reference(match, normal)  # the match itself is left out of its reference
        assert report.status == STATUS_OK, [f.message for f in report.drifted]
        assert not report.skipped and len(report.reference_ids) == 6


def test_a_different_camera_resolution_is_flagged(statistics) -> None:
    report = compare_to_reference(statistics["m0007"], _reference(statistics))
    assert report.status == STATUS_DRIFT
    flagged = {f.statistic for f in report.drifted}
    assert {"box_width", "box_height", "box_area"} <= flagged
    assert "players_per_frame" not in flagged  # the same players, only seen larger
    (height,) = [f for f in report.findings if f.statistic == "box_height"]
    assert height.match_value / height.reference_value == pytest.approx(2.0, rel=0.15)


def test_a_poor_detector_is_flagged_by_its_agreement(statistics) -> None:
    report = compare_to_reference(statistics["m0008"], _reference(statistics))
    flagged = {f.statistic for f in report.drifted}
    assert "matched_share" in flagged
    assert not flagged & {"box_width", "box_height", "box_area", "players_per_frame"}  # the labels are alike
