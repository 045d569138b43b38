"""Keyframes to per-frame labels, exactly as the product draws them.

Annotators place a box only where a player's motion changes; the product shows every other frame by linear
interpolation between the two surrounding keyframes of the track. We reproduce that faithfully, ghosts included:
when a player leaves the pitch and comes back, the span between the exit and re-entry keyframes is interpolated too,
and it is the cleaning stage's job (``cvops.cleaning``) to find and remove it. Doing the cleaning here would hide
from the catalog what the product really showed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cvops.errors import InputError
from cvops.labels.store import MAX_FRAMES

RAW_LABEL_COLUMNS = ("frame", "track_id", "role", "x", "y", "w", "h", "is_keyframe")
MAX_LABEL_ROWS = 50_000_000
"""Most rows interpolation may produce (about 3 GB); a 90-minute match at 50 fps with 30 tracks always on the
pitch makes 8 million."""
_BOX = ("x", "y", "w", "h")


def interpolate_keyframes(
    keyframes: pd.DataFrame, *, match_id: str | None = None, n_frames: int | None = None
) -> pd.DataFrame:
    """Expand keyframes (``frame, track_id, role, x, y, w, h``) into one row per frame of each track.

    A track covers the frames from its first to its last keyframe. Between frames ``f0 < f1`` with boxes ``b0, b1``,
    frame ``f`` gets ``b0 + (b1 - b0) * (f - f0) / (f1 - f0)``; the role is the role of the previous keyframe, so a
    role correction takes effect from its keyframe on. A track with a single keyframe yields that one row.
    Two keyframes of one track on one frame are contradictory and raise an ``InputError``.

    Frames are checked against ``n_frames`` (the match's length; ``MAX_FRAMES`` when not given) and the number of
    rows against ``MAX_LABEL_ROWS`` before anything is allocated: one keyframe at frame 2 000 000 000 would
    otherwise ask for tens of gigabytes.
    """
    if keyframes.empty:
        return _empty()
    last_frame = min(n_frames, MAX_FRAMES) if n_frames is not None else MAX_FRAMES
    frame_numbers = keyframes["frame"].to_numpy()
    if frame_numbers.min() < 1 or frame_numbers.max() > last_frame:
        bad = frame_numbers.min() if frame_numbers.min() < 1 else frame_numbers.max()
        raise InputError(f"keyframe at frame {bad} is outside 1..{last_frame}", field="frame", match_id=match_id)
    ordered = keyframes.sort_values(["track_id", "frame"], kind="stable").reset_index(drop=True)
    duplicated = ordered.duplicated(["track_id", "frame"], keep=False)
    if duplicated.any():
        first = ordered[duplicated].iloc[0]
        raise InputError(
            f"track {int(first.track_id)} has {int(duplicated.sum())} keyframes sharing a frame "
            f"(first at frame {int(first.frame)})",
            field="frame",
            match_id=match_id,
        )

    track_ids = ordered["track_id"].to_numpy()
    frames = ordered["frame"].to_numpy()
    starts = np.flatnonzero(np.r_[True, track_ids[1:] != track_ids[:-1]])
    ends = np.r_[starts[1:], len(ordered)]
    lengths = frames[ends - 1] - frames[starts] + 1
    if int(lengths.sum()) > MAX_LABEL_ROWS:
        raise InputError(
            f"interpolating would make {int(lengths.sum())} label rows, more than MAX_LABEL_ROWS ({MAX_LABEL_ROWS}); "
            "tracks this long are not a real match",
            field="frame",
            match_id=match_id,
        )

    out_track = np.repeat(track_ids[starts], lengths)
    # Frame numbers per track: first frame of the track plus 0..length-1.
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    out_frame = np.repeat(frames[starts], lengths) + offsets

    # Index of the keyframe at or before each output frame (within the same track): searchsorted on a key that
    # orders first by track, then by frame.
    track_rank = np.repeat(np.arange(len(starts)), ends - starts)
    span = int(frames.max()) + 2
    key = track_rank.astype(np.int64) * span + frames
    out_key = np.repeat(np.arange(len(starts)), lengths).astype(np.int64) * span + out_frame
    previous = np.searchsorted(key, out_key, side="right") - 1
    following = np.minimum(previous + 1, np.repeat(ends - 1, lengths))
    f0 = frames[previous]
    f1 = frames[following]
    gap = np.where(f1 > f0, f1 - f0, 1)
    weight = np.where(f1 > f0, (out_frame - f0) / gap, 0.0)

    result = {"frame": out_frame.astype("int64"), "track_id": out_track.astype("int64")}
    result["role"] = ordered["role"].to_numpy()[previous]
    for name in _BOX:
        values = ordered[name].to_numpy(dtype="float64")
        result[name] = values[previous] + (values[following] - values[previous]) * weight
    result["is_keyframe"] = out_frame == f0
    out = pd.DataFrame(result)
    out["role"] = out["role"].astype("string")
    return out.sort_values(["frame", "track_id"], kind="stable").reset_index(drop=True)


def _empty() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "frame": pd.Series(dtype="int64"),
            "track_id": pd.Series(dtype="int64"),
            "role": pd.Series(dtype="string"),
            **{name: pd.Series(dtype="float64") for name in _BOX},
            "is_keyframe": pd.Series(dtype="bool"),
        }
    )
