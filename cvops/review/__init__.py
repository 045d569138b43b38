"""The annotation loop: what is most worth a human's time in a match, and pseudo-labels for matches nobody has
annotated yet (docs/review.md)."""

from cvops.review.queue import REVIEW_COLUMNS, ReviewQueueConfig, labels_vs_model_queue, model_only_queue
from cvops.review.tracks import MODEL_TRACK_COLUMNS, keyframes_from_tracks, track_predictions

__all__ = [
    "MODEL_TRACK_COLUMNS",
    "REVIEW_COLUMNS",
    "ReviewQueueConfig",
    "keyframes_from_tracks",
    "labels_vs_model_queue",
    "model_only_queue",
    "track_predictions",
]
