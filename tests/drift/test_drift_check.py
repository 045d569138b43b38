"""The drift step (match_statistics, match_drift) and the match_drift check, materialised on an ephemeral instance
over hand-made manifests.

Each match's upstream manifests (matches, cleaned_tracks, frame_agreement, match_predictions, match_selection)
are written directly; the real frame selection then computes its frames, the drift step compares the match with the
others, and the check reports its findings.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import dagster as dg
import pandas as pd

from cvops.catalog import Catalog, Manifests
from cvops.drift import match_statistics
from cvops.selection import select_frames
from cvops_assets.drift import measure_drift
from cvops_assets.partitions import matches_partitions
from cvops_assets.selection import select_match_frames
from cvops_checks.drift_checks import match_drift_check
from cvops_resources import CatalogResource
from tests.drift.drift_factories import NORMAL, MatchShape, match_tables
from tests.factories import match_row


def _publish(manifests: Manifests, match_id: str, seed: int, shape: MatchShape = NORMAL) -> None:
    """Write what the stages before ``selected_frames`` would have written for one match."""
    tables = match_tables(match_id, seed, shape)
    timing = tables.matches.iloc[0]
    row = match_row(match_id, n_frames=shape.n_frames, kickoff=timing["kickoff"], annotated_at=timing["annotated_at"])
    manifests.write("matches", pd.DataFrame([row]).assign(fps="25"), match_id)
    manifests.write("cleaned_tracks", tables.cleaned_tracks, match_id)
    manifests.write("frame_agreement", tables.frame_agreement, match_id)
    predictions = pd.DataFrame(
        {
            "frame": [1],
            "x": [0.0],
            "y": [0.0],
            "w": [10.0],
            "h": [20.0],
            "conf": [0.9],
            "role": ["player"],
            "source": [shape.source],
        }
    )
    manifests.write("match_predictions", predictions.iloc[0:0] if shape.source == "none" else predictions, match_id)
    selection = manifests.read("match_selection") if manifests.file("match_selection").exists() else None
    rows = pd.DataFrame(
        [
            {
                "match_id": match_id,
                "group_key": "g",
                "split": "train",
                "reason": "group_slot",
                "detail": "",
                "annotated_at": timing["annotated_at"],
                "policy": "{}",
            }
        ]
    )
    manifests.write("match_selection", rows if selection is None else pd.concat([selection, rows], ignore_index=True))


class Checked:
    """The check's verdict, and the drift step's report on the match (the match_drift asset's metadata)."""

    def __init__(self, evaluation: dg.AssetCheckEvaluation, report: dict, statistics: dict) -> None:
        self.passed, self.description = evaluation.passed, evaluation.description
        self.metadata = {**statistics, **report, **evaluation.metadata}


def _check(home: Path, match_id: str, assets: list | None = None, **config: object) -> Checked:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("matches", [match_id])
    result = dg.materialize(
        [*(assets or [select_match_frames]), measure_drift, match_drift_check(matches_partitions)],
        partition_key=match_id,
        instance=instance,
        resources={"catalog": CatalogResource(home=str(home))},
        run_config={"ops": {"measure_drift": {"config": config}}} if config else None,
    )
    assert result.success  # never blocking, never failing the run
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == "match_drift" and evaluation.severity == dg.AssetCheckSeverity.WARN
    drift = {m.asset_key.to_user_string(): m.metadata for m in result.asset_materializations_for_node("measure_drift")}
    return Checked(evaluation, drift["match_drift"], drift["match_statistics"])


def test_first_match_has_no_reference_and_a_shifted_match_warns(cvops_home: Path) -> None:
    manifests = Manifests(cvops_home / "manifests")
    for i in range(4):
        _publish(manifests, f"m{i}", seed=i)
    _publish(manifests, "big", seed=9, shape=replace(NORMAL, box_height=52.0))

    first = _check(cvops_home, "m0")
    assert first.passed and first.description.startswith("no reference yet")
    assert first.metadata["status"].value == "no_reference" and first.metadata["reference_matches"].value == 0

    # Three more matches: the last one has a reference of three and is in line with it.
    for match_id in ("m1", "m2"):
        _check(cvops_home, match_id)
    fourth = _check(cvops_home, "m3")
    assert fourth.passed and fourth.metadata["status"].value == "ok", fourth.description
    assert fourth.metadata["reference_matches"].value == 3 and fourth.metadata["reference"].value == "m0, m1, m2"

    shifted = _check(cvops_home, "big")
    assert not shifted.passed
    assert shifted.description.startswith("departs from 4 reference matches in: box_width, box_height, box_area")
    metadata = shifted.metadata
    assert metadata["drifted_statistics"].value == 3 and metadata["tested_statistics"].value == 8
    assert "| box_height | **drift** | ks_2samp |" in metadata["findings"].value
    assert metadata["box_height_median"].value > 1.2 * 40

    catalog = Catalog(cvops_home / "catalog.duckdb", manifests)
    drifted = catalog.query("SELECT match_id, statistic FROM match_drift WHERE drifted ORDER BY 1, 2")
    assert drifted.to_dict("records") == [
        {"match_id": "big", "statistic": s} for s in ("box_area", "box_height", "box_width")
    ]
    samples = catalog.query("SELECT match_id, len(box_height_sample) AS n FROM match_statistics ORDER BY 1")
    assert samples["match_id"].tolist() == ["big", "m0", "m1", "m2", "m3"] and (samples["n"] == 2000).all()


def test_a_match_without_players_or_predictions_warns_clearly(cvops_home: Path) -> None:
    manifests = Manifests(cvops_home / "manifests")
    for i in range(3):
        _publish(manifests, f"m{i}", seed=i)
        manifests.write("match_statistics", _statistics_row(manifests, f"m{i}"), f"m{i}")
    _publish(manifests, "empty", seed=5, shape=replace(NORMAL, players=0, source="none"))

    evaluation = _check(cvops_home, "empty")
    assert not evaluation.passed  # no players at all on 2000 frames is as far from the reference as it gets
    assert "players_per_frame" in evaluation.description and "kept_share" in evaluation.description
    findings = evaluation.metadata["findings"].value
    assert "box height: only 0 value(s) in this match" in findings
    assert "matched share: no predictions for this match" in findings
    assert evaluation.metadata["prediction_source"].value == "none"
    assert evaluation.metadata["player_boxes"].value == 0
    assert "box_height_median" not in evaluation.metadata  # nothing to measure is not shown as a number


@dg.asset(name="selected_frames", partitions_def=matches_partitions)
def selected_frames_stand_in() -> None:
    """Stands in for selected_frames when nothing upstream was ever written for the match."""


def test_a_match_with_no_manifests_at_all_is_reported_not_crashed(cvops_home: Path) -> None:
    evaluation = _check(cvops_home, "ghost", assets=[selected_frames_stand_in], reference_matches=["m7"])
    assert evaluation.passed and evaluation.metadata["status"].value == "no_reference"
    notes = evaluation.metadata["notes"].value
    assert "no cleaned_tracks, selected_frames, frame_exclusions, frame_agreement, matches" in notes
    assert "reference matches without statistics yet: m7" in notes


def _statistics_row(manifests: Manifests, match_id: str) -> pd.DataFrame:
    """The statistics the check would store for a published match (computing them without a run)."""
    match = manifests.read("matches", match_id).iloc[0]
    tracks = manifests.read("cleaned_tracks", match_id)
    agreement = manifests.read("frame_agreement", match_id)
    frames = select_frames(match_id, tracks, agreement, n_frames=int(match.n_frames), split="train")
    return match_statistics(
        match_id,
        cleaned_tracks=tracks,
        selected_frames=frames.selected,
        frame_exclusions=frames.exclusions,
        frame_agreement=agreement,
        prediction_source="det.txt",
        n_frames=int(match.n_frames),
        kickoff=match.kickoff,
        annotated_at=match.annotated_at,
    ).as_frame()
