"""One number to rank trackers: a weighted count of errors per ground-truth box.

Different errors cost the product differently. A missed box (FN) or a ghost box (FP) spoils one frame; an
identity switch mislabels a player from that frame on, corrupting every per-player statistic until someone
fixes it, so it weighs more. Dividing by the number of ground-truth boxes makes the value comparable across
sample sets of different sizes (the benchmark grows): with all weights 1 it is exactly ``1 - MOTA``.
"""

from __future__ import annotations

from dataclasses import dataclass

from cvops.errors import InputError
from cvops.metrics.sequence_metrics import SequenceMetrics


@dataclass(frozen=True)
class ErrorWeights:
    """Cost of one error of each kind, relative to a missed box."""

    fn: float = 1.0
    fp: float = 1.0
    id_switches: float = 5.0
    """An identity switch costs five missed boxes: a policy choice (see module doc), not a measurement."""

    def __post_init__(self) -> None:
        for name in ("fn", "fp", "id_switches"):
            value = getattr(self, name)
            if not value >= 0.0:
                raise InputError(f"error weight must be >= 0, got {value!r}", field=name)


def weighted_error(metrics: SequenceMetrics, weights: ErrorWeights | None = None) -> float:
    """``(w_fn*FN + w_fp*FP + w_idsw*IDSW) / max(1, ground-truth boxes)``; lower is better, 0 is perfect.

    Use it on :func:`cvops.metrics.combine` output to score a set of sequences: the sums then run over all of
    them, so long sequences weigh in proportion to their boxes. A sequence without ground truth scores its
    false positives (TrackEval's ``max(1, ...)`` convention).
    """
    w = weights if weights is not None else ErrorWeights()
    errors = w.fn * metrics.fn + w.fp * metrics.fp + w.id_switches * metrics.id_switches
    return float(errors / max(1, metrics.num_gt_dets))
