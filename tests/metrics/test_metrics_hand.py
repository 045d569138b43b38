"""Metrics pinned on cases small enough to count by hand."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from cvops.errors import InputError
from cvops.metrics import ErrorWeights, SequenceMetrics, combine, evaluate_sequence, weighted_error


def two_objects(n_frames: int = 10) -> pd.DataFrame:
    """Objects 1 and 2, 20x40 px, far apart (they never overlap), visible in frames 1..n_frames."""
    rows = [(f, i, 10.0 + f + 200 * (i - 1), 10.0, 20.0, 40.0) for f in range(1, n_frames + 1) for i in (1, 2)]
    return pd.DataFrame(rows, columns=["frame", "id", "x", "y", "w", "h"])


def test_perfect_tracker() -> None:
    gt = two_objects()
    m = evaluate_sequence(gt, gt.rename(columns={"id": "track_id"}).assign(track_id=lambda t: t["track_id"] + 100))
    assert (m.hota, m.deta, m.assa, m.mota, m.motp, m.idf1) == (1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
    assert (m.id_switches, m.fp, m.fn) == (0, 0, 0)
    assert (m.num_gt_dets, m.num_tracker_dets, m.num_gt_ids, m.num_tracker_ids, m.num_frames) == (20, 20, 2, 2, 10)


def test_tracker_missing_one_object() -> None:
    gt = two_objects()
    m = evaluate_sequence(gt, gt[gt["id"] == 1])
    # 20 GT boxes, object 2's 10 never matched: FN = 10, FP = IDSW = 0.
    # MOTA = 1 - (FN + FP + IDSW) / GT = 1 - 10/20 = 0.5.
    # IDF1 = 2 IDTP / (2 IDTP + IDFP + IDFN) = 20 / (20 + 0 + 10) = 2/3.
    # DetA = TP / (TP + FN + FP) = 10/20 at every alpha (IoU 1), AssA = 1, HOTA = sqrt(0.5).
    assert (m.fn, m.fp, m.id_switches) == (10, 0, 0)
    assert m.mota == pytest.approx(0.5)
    assert m.idf1 == pytest.approx(2 / 3)
    assert m.deta == pytest.approx(0.5) and m.assa == pytest.approx(1.0)
    assert m.hota == pytest.approx(math.sqrt(0.5))


def test_identity_swap_halfway() -> None:
    gt = two_objects()
    tracker = gt.copy()
    later = tracker["frame"] > 5
    tracker.loc[later, "id"] = 3 - tracker.loc[later, "id"]
    m = evaluate_sequence(gt, tracker)
    # Frame 6: each object is matched to the other's track: 2 ID switches. MOTA = 1 - 2/20 = 0.9.
    # Best one-to-one id mapping keeps 5 of 10 frames per object: IDTP = 10, IDFP = IDFN = 10,
    # IDF1 = 20 / (20 + 10 + 10) = 0.5. HOTA: DetA = 1; every TP's association score is
    # TPA / (TPA + FNA + FPA) = 5 / (5 + 5 + 5) = 1/3, so AssA = 1/3 and HOTA = sqrt(1/3).
    assert (m.id_switches, m.fp, m.fn) == (2, 0, 0)
    assert m.mota == pytest.approx(0.9)
    assert m.idf1 == pytest.approx(0.5)
    assert m.deta == pytest.approx(1.0)
    assert m.assa == pytest.approx(1 / 3)
    assert m.hota == pytest.approx(math.sqrt(1 / 3))


def test_one_false_positive() -> None:
    gt = two_objects()
    ghost = pd.DataFrame([(3, 9, 900.0, 500.0, 20.0, 40.0)], columns=gt.columns)
    m = evaluate_sequence(gt, pd.concat([gt, ghost], ignore_index=True))
    # MOTA = 1 - 1/20 = 0.95; IDF1 = 40 / (40 + 1 + 0) = 40/41; DetA = 20/21, AssA = 1.
    assert (m.fp, m.fn, m.id_switches) == (1, 0, 0)
    assert m.mota == pytest.approx(0.95)
    assert m.idf1 == pytest.approx(40 / 41)
    assert m.hota == pytest.approx(math.sqrt(20 / 21))
    assert m.num_tracker_ids == 3


def test_motp_is_the_mean_iou_of_matches() -> None:
    gt = two_objects()
    shifted = gt.assign(x=gt["x"] + 2.0)  # 20x40 boxes 2 px off: IoU = 18*40 / (800 + 800 - 720) = 720/880
    m = evaluate_sequence(gt, shifted)
    assert m.motp == pytest.approx(720 / 880)
    assert m.mota == 1.0
    # HOTA's DetA counts a match only when IoU >= alpha: 16 of the 19 alphas (0.05..0.80) accept 0.818.
    assert m.deta == pytest.approx(16 / 19)


def test_flag_zero_rows_are_not_evaluated_but_boxes_on_them_are_false_positives() -> None:
    gt = two_objects().assign(conf=1.0, cls=1)
    gt.loc[gt["id"] == 2, "conf"] = 0.0
    only_one = evaluate_sequence(gt, gt[gt["id"] == 1])
    assert (only_one.num_gt_dets, only_one.fn, only_one.mota) == (10, 0, 1.0)
    both = evaluate_sequence(gt, gt)
    assert both.fp == 10  # TrackEval: only distractor classes excuse a tracker box, not the flag


def test_distractor_and_eval_classes() -> None:
    gt = two_objects().assign(conf=1.0, cls=1)
    gt.loc[gt["id"] == 2, "cls"] = 7  # a static person: a distractor in MOT17
    scored = evaluate_sequence(gt, gt, eval_classes={1}, distractor_classes={7})
    assert (scored.num_gt_dets, scored.num_tracker_dets, scored.fp, scored.mota) == (10, 10, 0, 1.0)
    no_distractors = evaluate_sequence(gt, gt, eval_classes={1})
    assert (no_distractors.num_gt_dets, no_distractors.fp) == (10, 10)
    with pytest.raises(InputError, match="'cls' column"):
        evaluate_sequence(gt.drop(columns="cls"), gt, eval_classes={1})


def test_empty_tracker_and_empty_gt() -> None:
    gt = two_objects()
    nothing = gt.iloc[0:0]
    m = evaluate_sequence(gt, nothing)
    assert (m.fn, m.fp, m.hota, m.mota, m.num_tracker_dets, m.num_frames) == (20, 0, 0.0, 0.0, 0, 10)
    m = evaluate_sequence(nothing, gt)
    assert (m.fp, m.fn, m.num_gt_dets) == (20, 0, 0)
    assert weighted_error(m) == 20.0  # no GT boxes: divided by max(1, 0)


def test_bad_dataframes_are_named() -> None:
    gt = two_objects()
    with pytest.raises(InputError) as caught:
        evaluate_sequence(gt.drop(columns="h"), gt)
    assert caught.value.field == "h" and "gt" in str(caught.value)
    duplicate = pd.concat([gt, gt.iloc[[3]]], ignore_index=True)
    with pytest.raises(InputError, match="twice in one frame") as caught:
        evaluate_sequence(gt, duplicate)
    assert "tracker row 20" in str(caught.value)
    with pytest.raises(InputError, match="negative box size"):
        evaluate_sequence(gt.assign(w=-1.0), gt)
    with pytest.raises(InputError, match="finite"):
        evaluate_sequence(gt, gt.assign(x="left"))


def test_combine_equals_evaluating_the_concatenated_sequence() -> None:
    rng = np.random.default_rng(0)
    sequences = []
    for seed in range(3):
        gt = two_objects(12 + seed)
        tracker = gt.assign(x=gt["x"] + rng.normal(0, 3, len(gt)))
        tracker = tracker.drop(index=rng.choice(len(tracker), 4, replace=False))
        tracker.loc[tracker["frame"] > 6, "id"] += seed  # an identity switch in later sequences
        sequences.append((gt, tracker))
    combined = combine(evaluate_sequence(g, t) for g, t in sequences)

    offset_gt, offset_tracker, frame_offset = [], [], 0
    for index, (gt, tracker) in enumerate(sequences):
        shift = {"frame": frame_offset, "id": 1000 * index}
        offset_gt.append(gt.assign(**{k: gt[k] + v for k, v in shift.items()}))
        offset_tracker.append(tracker.assign(**{k: tracker[k] + v for k, v in shift.items()}))
        frame_offset += int(gt["frame"].max())
    whole = evaluate_sequence(pd.concat(offset_gt), pd.concat(offset_tracker))
    for name, value in whole.as_dict().items():
        assert getattr(combined, name) == pytest.approx(value), name


def test_combine_is_detection_weighted_not_a_mean() -> None:
    gt = two_objects()
    perfect = evaluate_sequence(gt, gt)
    half = evaluate_sequence(gt.iloc[:4], gt.iloc[:2])  # 4 GT boxes, 2 missed
    combined = combine([perfect, half])
    assert combined.mota == pytest.approx(1 - 2 / 24)
    assert combined.num_gt_dets == 24 and combined.fn == 2


def test_as_dict_round_trip_through_json_keeps_combine_exact() -> None:
    gt = two_objects()
    a = evaluate_sequence(gt, gt[gt["id"] == 1])
    b = evaluate_sequence(gt, gt.assign(y=gt["y"] + 5))
    restored = [SequenceMetrics.from_dict(json.loads(json.dumps(m.as_dict(with_stats=True)))) for m in (a, b)]
    assert restored[0] == a
    assert combine(restored).as_dict() == pytest.approx(combine([a, b]).as_dict())
    assert "stats" not in a.as_dict()
    with pytest.raises(InputError, match="cannot be combined"):
        combine([SequenceMetrics.from_dict(a.as_dict())])
    with pytest.raises(InputError, match="lacks"):
        SequenceMetrics.from_dict({"hota": 1.0})
    with pytest.raises(ValueError, match="at least one"):
        combine([])


def test_weighted_error() -> None:
    gt = two_objects()
    tracker = gt.copy()
    tracker.loc[tracker["frame"] > 5, "id"] = 3 - tracker.loc[tracker["frame"] > 5, "id"]  # 2 IDSW
    tracker = tracker.iloc[3:]  # 3 FN (frame 1 both objects, frame 2 object 1)
    tracker = pd.concat([tracker, pd.DataFrame([(3, 9, 900.0, 500.0, 20.0, 40.0)], columns=gt.columns)])  # 1 FP
    m = evaluate_sequence(gt, tracker)
    assert (m.fn, m.fp, m.id_switches) == (3, 1, 2)
    assert weighted_error(m, ErrorWeights(fn=1, fp=1, id_switches=1)) == pytest.approx(1 - m.mota)
    assert weighted_error(m) == pytest.approx((3 + 1 + 5 * 2) / 20)
    assert weighted_error(m, ErrorWeights(fn=2.0, fp=0.5, id_switches=10.0)) == pytest.approx((6 + 0.5 + 20) / 20)
    with pytest.raises(InputError) as caught:
        ErrorWeights(fp=-1.0)
    assert caught.value.field == "fp"
