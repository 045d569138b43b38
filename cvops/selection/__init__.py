"""Sample selection: which frames of a match, and which matches, become dataset samples (see docs/cleaning.md)."""

from cvops.selection.frames import (
    EXCLUSION_REASONS,
    FrameSelection,
    FrameSelectionConfig,
    candidate_frames,
    select_frames,
)
from cvops.selection.matches import (
    HELD_REASONS,
    SPLIT_EXCLUDED,
    SPLIT_TRAIN,
    SPLIT_VAL,
    MatchSelection,
    MatchSelectionConfig,
    blocking_failures,
    export_split,
    group_key,
    select_matches,
)

__all__ = [
    "EXCLUSION_REASONS",
    "HELD_REASONS",
    "SPLIT_EXCLUDED",
    "SPLIT_TRAIN",
    "SPLIT_VAL",
    "FrameSelection",
    "FrameSelectionConfig",
    "MatchSelection",
    "MatchSelectionConfig",
    "blocking_failures",
    "candidate_frames",
    "export_split",
    "group_key",
    "select_frames",
    "select_matches",
]
