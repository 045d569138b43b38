"""Label cleaning: sync offset, ghost chunks, agreement with predictions (see docs/cleaning.md).

Each step is a plain function on DataFrames; :func:`clean_match` runs them all for one match and is what the
``cleaned_tracks`` asset calls.
"""

from cvops.cleaning.agreement import AgreementConfig, frame_agreement, summarize_agreement
from cvops.cleaning.clean import CleaningConfig, CleaningResult, clean_match
from cvops.cleaning.ghosts import GhostConfig, GhostReport, find_ghosts, interpolated_spans
from cvops.cleaning.inputs import VideoInfo, prepare_labels, prepare_predictions
from cvops.cleaning.matching import FrameAssignment, assign_per_frame, max_cover_by_others
from cvops.cleaning.sync import SyncConfig, SyncEstimate, estimate_offset

__all__ = [
    "AgreementConfig",
    "CleaningConfig",
    "CleaningResult",
    "FrameAssignment",
    "GhostConfig",
    "GhostReport",
    "SyncConfig",
    "SyncEstimate",
    "VideoInfo",
    "assign_per_frame",
    "clean_match",
    "estimate_offset",
    "find_ghosts",
    "frame_agreement",
    "interpolated_spans",
    "max_cover_by_others",
    "prepare_labels",
    "prepare_predictions",
    "summarize_agreement",
]
