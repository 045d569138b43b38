"""Keyframes to per-frame labels, exactly as the product draws them.

Annotators place a box only where a player's motion changes; the product shows every other frame by linear
interpolation between the two surrounding keyframes of the track. We reproduce that faithfully, ghosts included:
when a player leaves the pitch and comes back, and the annotation does not record the exit, the span between the
exit and re-entry keyframes is interpolated too, and it is the cleaning stage's job (``cvops.cleaning``) to find
and remove it. Doing the cleaning here would hide from the catalog what the product really showed.

An annotation that records the exit (an ``outside`` keyframe, schema version 2 of the store, as CVAT writes it)
is drawn as CVAT draws it: the object is shown up to the frame before the outside keyframe and not again until
its next visible keyframe, so no interpolation crosses an outside span and there is no ghost to clean.
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
    """Expand keyframes (``frame, track_id, role, x, y, w, h`` and optionally ``outside``) into one row per frame
    on which each track is shown.

    A visible keyframe at frame ``f0`` whose track's next keyframe is at ``f1`` draws frames ``f0 .. f1 - 1``:
    frame ``f`` gets ``b0 + (b1 - b0) * (f - f0) / (f1 - f0)``, where ``b1`` is the next keyframe's box (an
    outside keyframe without a box counts as ``b0``: the box stays until the object leaves). An outside keyframe
    draws nothing until the track's next keyframe, and a track's last keyframe, if visible, draws its own frame
    only. Without outside keyframes a track therefore covers every frame from its first to its last keyframe, as
    the product draws it. The role is the role of the keyframe drawing the frame, so a role correction takes
    effect from its keyframe on. Two keyframes of one track on one frame are contradictory and raise an
    ``InputError``.

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
    frames = ordered["frame"].to_numpy().astype(np.int64)
    outside = ordered["outside"].to_numpy(dtype=bool) if "outside" in ordered else np.zeros(len(ordered), bool)
    boxes = ordered[list(_BOX)].to_numpy(dtype="float64")
    # The next keyframe of the same track, when there is one.
    has_next = np.r_[track_ids[1:] == track_ids[:-1], False]
    following = np.where(has_next, np.arange(1, len(ordered) + 1), np.arange(len(ordered)))
    following = np.minimum(following, len(ordered) - 1)
    lengths = np.where(outside, 0, np.where(has_next, frames[following] - frames, 1))
    if int(lengths.sum()) > MAX_LABEL_ROWS:
        raise InputError(
            f"interpolating would make {int(lengths.sum())} label rows, more than MAX_LABEL_ROWS ({MAX_LABEL_ROWS}); "
            "tracks this long are not a real match",
            field="frame",
            match_id=match_id,
        )

    # The box each keyframe moves towards: the next keyframe's, or its own when there is none (or the next one is
    # an outside keyframe without a box).
    target = np.where((has_next & ~np.isnan(boxes[following]).any(axis=1))[:, None], boxes[following], boxes)
    source = np.repeat(np.arange(len(ordered)), lengths)
    offsets = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    gap = np.where(has_next, frames[following] - frames, 1)[source]
    weight = offsets / gap

    result = {"frame": (frames[source] + offsets).astype("int64"), "track_id": track_ids[source].astype("int64")}
    result["role"] = ordered["role"].to_numpy()[source]
    for position, name in enumerate(_BOX):
        start = boxes[source, position]
        result[name] = start + (target[source, position] - start) * weight
    result["is_keyframe"] = offsets == 0
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
