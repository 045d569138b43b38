"""VOC all-point AP50 on hand-made cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cvops.model.detection_metrics import ap50_per_class, average_precision, best_f1_threshold, class_average_precision

CLASSES = ("player", "ball")


def frame(rows: list[tuple], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns)


def truth(rows: list[tuple]) -> pd.DataFrame:
    return frame(rows, ["image", "x", "y", "w", "h", "cls"])


def dets(rows: list[tuple]) -> pd.DataFrame:
    return frame(rows, ["image", "x", "y", "w", "h", "conf", "cls"])


def test_perfect_predictions_score_one() -> None:
    gt = truth([(0, 0, 0, 10, 20, 0), (0, 50, 0, 10, 20, 0), (1, 5, 5, 4, 4, 1)])
    pred = dets([(0, 0, 0, 10, 20, 0.9, 0), (0, 50, 0, 10, 20, 0.8, 0), (1, 5, 5, 4, 4, 0.7, 1)])
    assert ap50_per_class(pred, gt, CLASSES) == {"player": 1.0, "ball": 1.0}


def test_hand_computed_case() -> None:
    """Two objects; ranked detections TP, FP (IoU 1/3), TP.

    precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1: the envelope gives 1 on [0, 1/2] and 2/3 on [1/2, 1],
    so AP = 0.5 * 1 + 0.5 * 2/3 = 5/6.
    """
    gt = truth([(0, 0, 0, 10, 10, 0), (1, 0, 0, 10, 10, 0)])
    pred = dets([(0, 0, 0, 10, 10, 0.9, 0), (0, 5, 0, 10, 10, 0.8, 0), (1, 1, 0, 10, 10, 0.7, 0)])
    assert class_average_precision(pred, gt) == pytest.approx(5 / 6)


def test_duplicates_are_false_positives_and_threshold_is_inclusive() -> None:
    gt = truth([(0, 0, 0, 10, 10, 0)])
    # 10x10 vs 10x5 at the same corner: IoU exactly 0.5, a match; the exact duplicate ranked below it is an FP.
    pred = dets([(0, 0, 0, 10, 5, 0.9, 0), (0, 0, 0, 10, 10, 0.5, 0)])
    assert class_average_precision(pred, gt) == pytest.approx(1.0)
    pred = dets([(0, 0, 0, 10, 10, 0.4, 0), (0, 0, 0, 10, 10, 0.9, 0), (0, 30, 30, 5, 5, 0.95, 0)])
    # ranked: FP (0.95), TP (0.9), duplicate FP (0.4): precision 1/2 at recall 1
    assert class_average_precision(pred, gt) == pytest.approx(0.5)


def test_detections_in_other_images_do_not_match() -> None:
    gt = truth([(0, 0, 0, 10, 10, 0)])
    pred = dets([(1, 0, 0, 10, 10, 0.9, 0)])
    assert class_average_precision(pred, gt) == 0.0


def test_absent_classes_are_none_and_missed_classes_zero() -> None:
    gt = truth([(0, 0, 0, 10, 10, 0)])
    pred = dets([(0, 0, 0, 10, 10, 0.9, 1)])
    assert ap50_per_class(pred, gt, CLASSES) == {"player": 0.0, "ball": None}


def test_average_precision_uses_the_precision_envelope() -> None:
    recall = np.array([0.25, 0.25, 0.5, 0.75])
    precision = np.array([1.0, 0.5, 0.67, 0.75])
    # envelope: 1 up to 0.25, then 0.75 up to 0.75, then nothing to 1
    assert average_precision(recall, precision) == pytest.approx(0.25 * 1 + 0.5 * 0.75)


def test_operating_point_is_the_best_f1_confidence_over_the_tracked_classes() -> None:
    """Three players and a goalkeeper (classes 0, 1); the ball (2) is not tracked.

    Ranked over both tracked classes: TP 0.9, TP 0.7, FP 0.6, TP 0.5, FP 0.3, TP 0.2 with 4 objects. F1 at each
    cut: 2/5, 2/3, 4/7, 3/4, 2/3, 4/5 (the last keeps everything: precision 4/6, recall 1). The best is 0.8 at
    confidence 0.2; without the goalkeeper's two detections it is 3/4 at 0.5.
    """
    gt = truth([(0, 0, 0, 10, 10, 0), (0, 40, 0, 10, 10, 0), (1, 0, 0, 10, 10, 0), (1, 40, 0, 10, 10, 1)])
    found = [
        (0, 0, 0, 10, 10, 0.9, 0),
        (0, 40, 0, 10, 10, 0.7, 0),
        (0, 80, 0, 10, 10, 0.6, 0),
        (1, 0, 0, 10, 10, 0.5, 0),
        (1, 80, 0, 10, 10, 0.3, 1),
        (1, 40, 0, 10, 10, 0.2, 1),
        (1, 90, 90, 10, 10, 0.95, 2),
    ]
    assert best_f1_threshold(dets(found), gt, [0, 1]) == pytest.approx((0.2, 0.8))
    assert best_f1_threshold(dets(found[:-2]), gt, [0, 1]) == pytest.approx((0.5, 0.75))
    assert best_f1_threshold(dets(found).iloc[:0], gt, [0, 1]) is None
    assert best_f1_threshold(dets(found), gt.iloc[:0], [0, 1]) is None
