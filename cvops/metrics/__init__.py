"""Tracking metrics: HOTA, CLEAR (MOTA, MOTP) and Identity (IDF1) via TrackEval, and a weighted error.

Typical use::

    from cvops.metrics import combine, evaluate_sequence, weighted_error
    from cvops.tracking import read_mot_gt, read_mot_tracker

    per_match = [evaluate_sequence(read_mot_gt(g), read_mot_tracker(t)) for g, t in pairs]
    overall = combine(per_match)
    print(overall.hota, overall.idf1, weighted_error(overall))
"""

from cvops.metrics.sequence_metrics import IOU_THRESHOLD, SequenceMetrics, combine, evaluate_sequence
from cvops.metrics.weighted import ErrorWeights, weighted_error

__all__ = [
    "IOU_THRESHOLD",
    "ErrorWeights",
    "SequenceMetrics",
    "combine",
    "evaluate_sequence",
    "weighted_error",
]
