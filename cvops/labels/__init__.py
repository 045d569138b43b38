"""The label store: the product's matches and keyframe corrections, read and validated (see docs/label-store.md)."""

from cvops.labels.interpolate import interpolate_keyframes
from cvops.labels.store import (
    KEYFRAME_COLUMNS,
    MATCH_COLUMNS,
    ROLES,
    LabelStore,
    MatchRecord,
    MatchTable,
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
    "validate_match_id",
]
