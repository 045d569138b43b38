"""Numbers that describe a match's labels at a glance (shown in the UI, used by drift checks)."""

from __future__ import annotations

import pandas as pd

PLAYER_ROLES = ("player", "goalkeeper")


def players_per_frame(labels: pd.DataFrame, n_frames: int | None = None) -> pd.Series:
    """Number of player and goalkeeper boxes on each frame (frames with none count 0 when n_frames is given)."""
    players = labels[labels["role"].isin(PLAYER_ROLES)]
    counts = players.groupby("frame").size()
    if n_frames is not None:
        counts = counts.reindex(range(1, n_frames + 1), fill_value=0)
    return counts.rename("players").astype("int64")


def summarize_labels(labels: pd.DataFrame, n_frames: int) -> dict[str, float | int]:
    """Rows, tracks, keyframes, frames covered and the players-per-frame distribution of one match."""
    per_frame = players_per_frame(labels, n_frames)
    summary: dict[str, float | int] = {
        "rows": len(labels),
        "tracks": int(labels["track_id"].nunique()),
        "frames_covered": int(labels["frame"].nunique()),
        "n_frames": n_frames,
        "players_per_frame_min": int(per_frame.min()) if len(per_frame) else 0,
        "players_per_frame_median": float(per_frame.median()) if len(per_frame) else 0.0,
        "players_per_frame_max": int(per_frame.max()) if len(per_frame) else 0,
    }
    if "is_keyframe" in labels.columns:
        summary["keyframes"] = int(labels["is_keyframe"].sum())
    return summary
