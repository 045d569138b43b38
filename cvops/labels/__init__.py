"""The label store: the product's matches and keyframe corrections, read and validated (see docs/label-store.md)."""

from cvops.labels.interpolate import interpolate_keyframes
from cvops.labels.store import (
    KEYFRAME_COLUMNS,
    MATCH_COLUMNS,
    ROLES,
    LabelStore,
    MatchRecord,
    MatchTable,
    matches_frame,
    validate_match_id,
)

__all__ = [
    "KEYFRAME_COLUMNS",
    "MATCH_COLUMNS",
    "ROLES",
    "LabelStore",
    "MatchRecord",
    "MatchTable",
    "interpolate_keyframes",
    "matches_frame",
    "validate_match_id",
]
