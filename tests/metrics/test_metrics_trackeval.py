"""Our DataFrame path agrees with TrackEval's own file-based MOT Challenge evaluator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import trackeval

from cvops.metrics import evaluate_sequence
from cvops.tracking import read_mot_gt, read_mot_tracker, track_sequence, write_mot_gt, write_mot_tracker_file
from cvops.tracking.simulate import DetectorModel, random_scene, simulate_detections

SEQ = "CVOPS-01"


def _scene(tmp_path: Path) -> tuple[Path, Path, int]:
    """A MOT17-style sequence: pedestrians (class 1), static people (class 7, a distractor), flag-0 rows."""
    gt = random_scene(14, 120, seed=11).assign(cls=1)
    distractors = gt["id"].isin([3, 4])
    gt.loc[distractors, "cls"] = 7
    rng = np.random.default_rng(12)
    gt.loc[rng.random(len(gt)) < 0.05, "conf"] = 0
    detections = simulate_detections(gt, DetectorModel(false_positives_per_frame=0.8), seed=13)
    tracks = track_sequence(detections)
    tracks.loc[tracks["frame"] > 60, "x"] += rng.normal(0, 4, int((tracks["frame"] > 60).sum()))

    gt_file = tmp_path / "gt" / SEQ / "gt" / "gt.txt"
    tracker_file = tmp_path / "trackers" / "cvops" / "data" / f"{SEQ}.txt"
    write_mot_gt(gt_file, gt)
    write_mot_tracker_file(tracker_file, tracks)
    return gt_file, tracker_file, int(gt["frame"].max())


def _trackeval_file_based(root: Path, n_frames: int, benchmark: str) -> dict:
    evaluator = trackeval.Evaluator(
        {
            "PRINT_RESULTS": False,
            "PRINT_CONFIG": False,
            "TIME_PROGRESS": False,
            "OUTPUT_SUMMARY": False,
            "OUTPUT_DETAILED": False,
            "PLOT_CURVES": False,
            "LOG_ON_ERROR": str(root / "error_log.txt"),
        }
    )
    dataset = trackeval.datasets.MotChallenge2DBox(
        {
            "GT_FOLDER": str(root / "gt"),
            "TRACKERS_FOLDER": str(root / "trackers"),
            "OUTPUT_FOLDER": str(root / "out"),
            "BENCHMARK": benchmark,
            "SEQ_INFO": {SEQ: n_frames},
            "SKIP_SPLIT_FOL": True,
            "PRINT_CONFIG": False,
        }
    )
    metrics = [
        trackeval.metrics.HOTA(),
        trackeval.metrics.CLEAR({"PRINT_CONFIG": False}),
        trackeval.metrics.Identity({"PRINT_CONFIG": False}),
    ]
    results, messages = evaluator.evaluate([dataset], metrics)
    assert messages["MotChallenge2DBox"]["cvops"] == "Success"
    return results["MotChallenge2DBox"]["cvops"][SEQ]["pedestrian"]


@pytest.mark.parametrize(
    ("benchmark", "eval_classes", "distractor_classes"),
    [
        ("MOT17", {1}, {2, 7, 8, 12}),  # class filter and distractor removal
        ("MOT15", None, set()),  # flag filter only
    ],
)
def test_matches_trackeval_evaluator(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], benchmark: str, eval_classes, distractor_classes
) -> None:
    gt_file, tracker_file, n_frames = _scene(tmp_path)
    expected = _trackeval_file_based(tmp_path, n_frames, benchmark)
    capsys.readouterr()  # TrackEval prints progress

    ours = evaluate_sequence(
        read_mot_gt(gt_file),
        read_mot_tracker(tracker_file),
        eval_classes=eval_classes,
        distractor_classes=distractor_classes,
    )
    hota, clear, identity, count = (expected[k] for k in ("HOTA", "CLEAR", "Identity", "Count"))
    assert ours.hota == pytest.approx(np.mean(hota["HOTA"]), abs=1e-12)
    assert ours.deta == pytest.approx(np.mean(hota["DetA"]), abs=1e-12)
    assert ours.assa == pytest.approx(np.mean(hota["AssA"]), abs=1e-12)
    assert ours.mota == pytest.approx(clear["MOTA"], abs=1e-12)
    assert ours.motp == pytest.approx(clear["MOTP"], abs=1e-12)
    assert ours.idf1 == pytest.approx(identity["IDF1"], abs=1e-12)
    assert (ours.id_switches, ours.fp, ours.fn) == (clear["IDSW"], clear["CLR_FP"], clear["CLR_FN"])
    assert (ours.num_gt_dets, ours.num_tracker_dets) == (count["GT_Dets"], count["Dets"])
    assert (ours.num_gt_ids, ours.num_tracker_ids) == (count["GT_IDs"], count["IDs"])
    # The scene exercises what it claims: errors of every kind, and filtering that changes the counts.
    assert ours.fp > 0 and ours.fn > 0 and ours.id_switches >= 0 and 0.3 < ours.hota < 1.0
    assert ours.num_gt_dets < len(read_mot_gt(gt_file))


def test_filters_change_the_result(tmp_path: Path) -> None:
    gt_file, tracker_file, _ = _scene(tmp_path)
    gt, tracker = read_mot_gt(gt_file), read_mot_tracker(tracker_file)
    with_distractors = evaluate_sequence(gt, tracker, eval_classes={1}, distractor_classes={7})
    class_only = evaluate_sequence(gt, tracker, eval_classes={1})
    assert with_distractors.num_tracker_dets < class_only.num_tracker_dets
    assert with_distractors.fp < class_only.fp
    assert pd.Series(gt["conf"]).eq(0).any()
