"""Per-sequence tracking metrics (HOTA, CLEAR, Identity) computed by TrackEval from DataFrames.

TrackEval's file-based ``Evaluator`` wants a fixed folder layout, a seqmap and pedestrian-only MOT classes, so
this module builds the per-frame data dict its metric classes take (ids relabelled to ``0..n-1``, IoU
similarities per frame) and calls ``trackeval.metrics.HOTA``, ``CLEAR`` and ``Identity`` directly. The
preprocessing mirrors TrackEval's ``MotChallenge2DBox``; a test checks the numbers agree with its Evaluator.

Ground-truth filtering, in MOT Challenge order:

1. rows whose ``conf`` (MOT's evaluation flag) is 0 are never evaluated, when the ground truth has the column;
2. when ``distractor_classes`` is given, tracker boxes matched (Hungarian, IoU >= 0.5) to a ground-truth box
   of such a class are removed before scoring: a tracker is neither rewarded nor penalised for following them;
3. when ``eval_classes`` is given, only ground-truth boxes of those classes are scored.

The default, no distractors and every class, suits football: every annotated person (players, goalkeepers,
referees) is a target, and trackers report no class in MOT files. MOT17 is
``eval_classes={1}, distractor_classes={2, 7, 8, 12}``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, NoReturn

import numpy as np
import pandas as pd
import trackeval
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from cvops.errors import InputError
from cvops.tracking.boxes import iou_xywh

IOU_THRESHOLD = 0.5
"""CLEAR and Identity match threshold, and the distractor matching threshold (TrackEval's defaults)."""

_EPS = float(np.finfo(float).eps)
_HOTA_STATS = ("HOTA_TP", "HOTA_FN", "HOTA_FP", "AssA", "AssRe", "AssPr", "LocA")
_IDENTITY_STATS = ("IDTP", "IDFN", "IDFP")
_CLEAR_STATS = tuple(trackeval.metrics.CLEAR({"PRINT_CONFIG": False}).summed_fields)
_COUNTS = ("num_gt_dets", "num_tracker_dets", "num_gt_ids", "num_tracker_ids", "num_frames")


def _metric_classes() -> tuple[trackeval.metrics.HOTA, trackeval.metrics.CLEAR, trackeval.metrics.Identity]:
    config = {"THRESHOLD": IOU_THRESHOLD, "PRINT_CONFIG": False}
    return (
        trackeval.metrics.HOTA(),
        trackeval.metrics.CLEAR(dict(config)),
        trackeval.metrics.Identity(dict(config)),
    )


@dataclass(frozen=True)
class SequenceMetrics:
    """Tracking quality of one sequence, or of several combined. Ratios are in ``[0, 1]`` (MOTA can be < 0).

    ``hota``, ``deta`` and ``assa`` are averaged over the IoU thresholds alpha = 0.05, 0.10, ..., 0.95;
    ``mota``, ``motp`` (mean IoU of matches, 1 is perfect), ``idf1``, ``id_switches``, ``fp`` and ``fn`` use
    CLEAR/Identity matching at IoU 0.5. ``stats`` holds TrackEval's additive per-sequence results so that
    :func:`combine` reproduces ``combine_sequences`` exactly; it survives :meth:`as_dict` / :meth:`from_dict`
    with ``with_stats=True``.
    """

    hota: float
    deta: float
    assa: float
    mota: float
    motp: float
    idf1: float
    id_switches: int
    fp: int
    fn: int
    num_gt_dets: int
    num_tracker_dets: int
    num_gt_ids: int
    num_tracker_ids: int
    num_frames: int
    stats: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, repr=False, compare=False)

    def as_dict(self, *, with_stats: bool = False) -> dict[str, Any]:
        """Plain JSON-ready values; ``with_stats`` adds what :func:`combine` needs under ``"stats"``."""
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "stats"}
        if with_stats:
            values["stats"] = {name: dict(group) for name, group in self.stats.items()}
        return values

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> SequenceMetrics:
        known = {f.name for f in fields(cls)}
        missing = sorted(known - {"stats"} - set(values))
        if missing:
            raise InputError(f"metrics record lacks {', '.join(missing)}", field=missing[0])
        return cls(**{k: v for k, v in values.items() if k in known})


def evaluate_sequence(
    gt: pd.DataFrame,
    tracker: pd.DataFrame,
    *,
    eval_classes: Collection[int] | None = None,
    distractor_classes: Collection[int] = (),
) -> SequenceMetrics:
    """Score ``tracker`` against ``gt`` for one sequence.

    ``gt``: ``frame,id,x,y,w,h`` and optionally ``conf`` (flag) and ``cls``; ``tracker``: ``frame,id,x,y,w,h``
    (``track_id`` is accepted for ``id``, so :func:`cvops.tracking.track_sequence` output goes straight in).
    """
    gt_rows = _Rows.from_frame(gt, "gt", needs_cls=eval_classes is not None or bool(distractor_classes))
    tracker_rows = _Rows.from_frame(tracker, "tracker", needs_cls=False)
    data = _trackeval_data(gt_rows, tracker_rows, eval_classes, distractor_classes)
    hota, clear, identity = _metric_classes()
    results = {
        "HOTA": hota.eval_sequence(data),
        "CLEAR": clear.eval_sequence(data),
        "Identity": identity.eval_sequence(data),
    }
    counts = {name: data[name] for name in _COUNTS if name != "num_frames"}
    return _from_results(results, {**counts, "num_frames": data["num_timesteps"]})


def combine(sequences: Iterable[SequenceMetrics]) -> SequenceMetrics:
    """Metrics of several sequences taken together, with TrackEval's ``combine_sequences`` semantics.

    Counts add up; MOTA, IDF1 and DetA are recomputed from the summed counts (detection-weighted, not a mean
    of per-sequence values); AssA is the mean weighted by HOTA true positives, per alpha.
    """
    items = list(sequences)
    if not items:
        raise ValueError("combine() needs at least one SequenceMetrics")
    for index, item in enumerate(items):
        if not item.stats:
            raise InputError("metrics without TrackEval stats cannot be combined", field=f"sequences[{index}]")
    hota, clear, identity = _metric_classes()
    results = {}
    for name, metric in (("HOTA", hota), ("CLEAR", clear), ("Identity", identity)):
        per_sequence = {str(i): _as_arrays(item.stats[name]) for i, item in enumerate(items)}
        results[name] = metric.combine_sequences(per_sequence)
    return _from_results(results, {name: sum(getattr(item, name) for item in items) for name in _COUNTS})


def _from_results(results: Mapping[str, Mapping[str, Any]], counts: Mapping[str, int]) -> SequenceMetrics:
    hota, clear, identity = results["HOTA"], results["CLEAR"], results["Identity"]
    stats = {
        "HOTA": {k: [float(v) for v in np.asarray(hota[k])] for k in _HOTA_STATS},
        "CLEAR": {k: float(clear[k]) if k == "MOTP_sum" else int(clear[k]) for k in _CLEAR_STATS},
        "Identity": {k: int(identity[k]) for k in _IDENTITY_STATS},
    }
    return SequenceMetrics(
        hota=float(np.mean(hota["HOTA"])),
        deta=float(np.mean(hota["DetA"])),
        assa=float(np.mean(hota["AssA"])),
        mota=float(clear["MOTA"]),
        motp=float(clear["MOTP"]),
        idf1=float(identity["IDF1"]),
        id_switches=int(clear["IDSW"]),
        fp=int(clear["CLR_FP"]),
        fn=int(clear["CLR_FN"]),
        stats=stats,
        **{name: int(counts[name]) for name in _COUNTS},
    )


def _as_arrays(group: Mapping[str, Any]) -> dict[str, Any]:
    """Stats back into the numpy types TrackEval's combine functions do arithmetic on."""
    return {k: np.asarray(v, dtype=float) if isinstance(v, list | tuple) else v for k, v in group.items()}


# -- building TrackEval's data dict --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rows:
    """One side's boxes sorted by frame, with everything needed for filtering."""

    frames: NDArray[np.int64]
    ids: NDArray[np.int64]
    boxes: NDArray[np.float64]
    evaluate: NDArray[np.bool_]
    """False where the ground-truth flag (``conf``) is 0."""
    classes: NDArray[np.int64] | None

    @classmethod
    def from_frame(cls, table: pd.DataFrame, side: str, *, needs_cls: bool) -> _Rows:
        if "id" not in table.columns and "track_id" in table.columns:
            table = table.rename(columns={"track_id": "id"})
        required = ("frame", "id", "x", "y", "w", "h")
        missing = [c for c in required if c not in table.columns]
        if missing:
            raise InputError(f"{side} DataFrame lacks column(s) {', '.join(missing)}", field=missing[0])
        if needs_cls and "cls" not in table.columns:
            raise InputError(f"class filtering needs a 'cls' column in the {side} DataFrame", field="cls")
        values = {c: _numeric(table, c, side) for c in (*required, "conf", "cls") if c in table.columns}
        for name in ("frame", "id", "cls"):
            if name in values:
                bad = np.flatnonzero(values[name] != np.round(values[name]))
                if len(bad):
                    _bad_row(table, bad[0], name, side, "must be an integer")
        for name in ("w", "h"):
            bad = np.flatnonzero(values[name] < 0)
            if len(bad):
                _bad_row(table, bad[0], name, side, "negative box size")
        duplicated = np.flatnonzero(pd.DataFrame({"f": values["frame"], "i": values["id"]}).duplicated())
        if len(duplicated):
            _bad_row(table, duplicated[0], "id", side, "the same id appears twice in one frame")
        order = np.argsort(values["frame"], kind="stable")
        evaluate = values["conf"] != 0 if side == "gt" and "conf" in values else np.ones(len(table), dtype=bool)
        return cls(
            frames=values["frame"].astype(np.int64)[order],
            ids=values["id"].astype(np.int64)[order],
            boxes=np.column_stack([values[c] for c in ("x", "y", "w", "h")])[order],
            evaluate=evaluate[order],
            classes=values["cls"].astype(np.int64)[order] if "cls" in values else None,
        )


def _numeric(table: pd.DataFrame, name: str, side: str) -> NDArray[np.float64]:
    values = pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        _bad_row(table, bad[0], name, side, "not a finite number")
    return values


def _bad_row(table: pd.DataFrame, position: int, name: str, side: str, message: str) -> NoReturn:
    raise InputError(f"{message} ({side} row {table.index[position]!r})", field=name)


def _trackeval_data(
    gt: _Rows,
    tracker: _Rows,
    eval_classes: Collection[int] | None,
    distractor_classes: Collection[int],
) -> dict[str, Any]:
    """TrackEval's preprocessed sequence dict: per-frame contiguous ids and IoU similarity matrices."""
    last_frame = int(max(gt.frames.max(initial=0), tracker.frames.max(initial=0)))
    frame_numbers = np.arange(1, last_frame + 2)
    gt_bounds = np.searchsorted(gt.frames, frame_numbers)
    tracker_bounds = np.searchsorted(tracker.frames, frame_numbers)
    distractors = np.asarray(sorted(distractor_classes), dtype=np.int64)
    keep_classes = None if eval_classes is None else np.asarray(sorted(eval_classes), dtype=np.int64)

    gt_ids, tracker_ids, similarities = [], [], []
    for t in range(last_frame):
        g = slice(gt_bounds[t], gt_bounds[t + 1])
        k = slice(tracker_bounds[t], tracker_bounds[t + 1])
        similarity = iou_xywh(gt.boxes[g], tracker.boxes[k])
        tracker_keep = np.ones(k.stop - k.start, dtype=bool)
        if len(distractors) and similarity.size:
            assert gt.classes is not None
            tracker_keep[_matched_to(similarity, np.isin(gt.classes[g], distractors))] = False
        gt_keep = gt.evaluate[g].copy()
        if keep_classes is not None:
            assert gt.classes is not None
            gt_keep &= np.isin(gt.classes[g], keep_classes)
        gt_ids.append(gt.ids[g][gt_keep])
        tracker_ids.append(tracker.ids[k][tracker_keep])
        similarities.append(similarity[np.ix_(gt_keep, tracker_keep)])

    gt_ids, n_gt_ids = _relabel(gt_ids)
    tracker_ids, n_tracker_ids = _relabel(tracker_ids)
    return {
        "num_timesteps": last_frame,
        "gt_ids": gt_ids,
        "tracker_ids": tracker_ids,
        "similarity_scores": similarities,
        "num_gt_ids": n_gt_ids,
        "num_tracker_ids": n_tracker_ids,
        "num_gt_dets": int(sum(len(ids) for ids in gt_ids)),
        "num_tracker_dets": int(sum(len(ids) for ids in tracker_ids)),
    }


def _matched_to(similarity: NDArray[np.float64], gt_mask: NDArray[np.bool_]) -> NDArray[np.intp]:
    """Tracker columns that a Hungarian match at IoU >= 0.5 pairs with a ground-truth row in ``gt_mask``."""
    scores = np.where(similarity >= IOU_THRESHOLD - _EPS, similarity, 0.0)
    rows, columns = linear_sum_assignment(-scores)
    matched = scores[rows, columns] > _EPS
    return columns[matched & gt_mask[rows]]


def _relabel(ids_per_frame: list[NDArray[np.int64]]) -> tuple[list[NDArray[np.int64]], int]:
    """Map ids to ``0..n-1`` (TrackEval indexes arrays with them)."""
    present = np.unique(np.concatenate(ids_per_frame)) if ids_per_frame else np.zeros(0, dtype=np.int64)
    return [np.searchsorted(present, ids).astype(int) for ids in ids_per_frame], len(present)
