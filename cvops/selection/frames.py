"""Which frames of a match become dataset samples.

Consecutive video frames are nearly identical, so only every ``frame_step``-th frame of a range is a
candidate. A candidate is dropped when its labels cannot be trusted as a training target:

* the number of labelled players is outside the expected range: warm-up, half time, a stoppage with players
  leaving, or an annotation gap (the labels are not of a game situation, or are incomplete);
* labels and predictions disagree badly: most labelled players have no prediction on them, or the matched ones
  overlap poorly (a box left behind, a missed substitution, a frame the annotator skipped).

Every dropped candidate is recorded with its reason, so the catalog answers "why is frame F not in the
dataset".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cvops.errors import InputError

REASON_TOO_FEW_PLAYERS = "too_few_players"
REASON_TOO_MANY_PLAYERS = "too_many_players"
REASON_LOW_AGREEMENT = "low_agreement"
REASON_LOW_IOU = "low_iou"
REASON_NO_AGREEMENT = "no_agreement"
REASON_MATCH_NOT_SELECTED = "match_not_selected"
EXCLUSION_REASONS = (
    REASON_TOO_FEW_PLAYERS,
    REASON_TOO_MANY_PLAYERS,
    REASON_LOW_AGREEMENT,
    REASON_LOW_IOU,
    REASON_NO_AGREEMENT,
    REASON_MATCH_NOT_SELECTED,
)


@dataclass(frozen=True)
class FrameSelectionConfig:
    """Candidate frames and the rules that drop them.

    Attributes:
        frame_step: one candidate every this many video frames (25: one per second at 25 fps).
        first_frame: first candidate (1-based video frame).
        last_frame: last frame of the range, inclusive; None means the last frame of the video.
        player_roles: roles counted as players.
        min_players, max_players: expected number of labelled players on a frame (inclusive). The defaults
            fit eleven-a-side on a camera that sees the whole pitch: 22 players, a few may be off for
            treatment or sent off, and a substitution briefly shows one extra.
        min_matched_share: drop a frame where fewer than this share of the labelled players is matched by a
            prediction (IoU >= the agreement threshold).
        min_mean_iou: drop a frame whose matched players overlap their predictions less than this on average.
        require_agreement: drop frames that have no agreement measure (no predictions there). Off by default:
            a match without predictions can still be used, judged by its player counts alone.
    """

    frame_step: int = 25
    first_frame: int = 1
    last_frame: int | None = None
    player_roles: tuple[str, ...] = ("player", "goalkeeper")
    min_players: int = 18
    max_players: int = 24
    min_matched_share: float = 0.5
    min_mean_iou: float = 0.6
    require_agreement: bool = False

    def __post_init__(self) -> None:
        if self.frame_step < 1:
            raise InputError(f"frame_step must be at least 1, got {self.frame_step}", field="frame_step")
        if self.first_frame < 1:
            raise InputError(f"first_frame is 1-based, got {self.first_frame}", field="first_frame")
        if self.last_frame is not None and self.last_frame < self.first_frame:
            raise InputError(
                f"last_frame {self.last_frame} is before first_frame {self.first_frame}", field="last_frame"
            )
        if self.min_players > self.max_players:
            raise InputError(
                f"min_players {self.min_players} exceeds max_players {self.max_players}", field="min_players"
            )


@dataclass(frozen=True)
class FrameSelection:
    """``selected_frames`` (match_id, frame, split), ``frame_exclusions`` (match_id, frame, reason), summary."""

    selected: pd.DataFrame
    exclusions: pd.DataFrame
    summary: dict[str, object] = field(default_factory=dict)


def candidate_frames(n_frames: int, config: FrameSelectionConfig) -> np.ndarray:
    """Every ``frame_step``-th video frame of the configured range, clipped to the video."""
    last = n_frames if config.last_frame is None else min(config.last_frame, n_frames)
    return np.arange(config.first_frame, last + 1, config.frame_step, dtype=np.int64)


def select_frames(
    match_id: str,
    cleaned_tracks: pd.DataFrame,
    frame_agreement: pd.DataFrame,
    *,
    n_frames: int,
    split: str | None,
    config: FrameSelectionConfig | None = None,
) -> FrameSelection:
    """Pick the sample frames of one match (all numbering in video frames).

    ``split`` is the match's split from the match selection (see ``cvops.selection.export_split``): ``train``
    or ``val``, or None when the match's frames must not be exported (excluded, held, not selected yet); then
    every candidate that passes the frame rules is excluded with reason ``match_not_selected``. A frame
    failing several rules is recorded with the first one, in the order of ``EXCLUSION_REASONS``.
    """
    config = config or FrameSelectionConfig()
    candidates = candidate_frames(n_frames, config)
    players = cleaned_tracks[cleaned_tracks["role"].isin(config.player_roles)]
    counts = players.groupby("frame").size().reindex(candidates, fill_value=0).to_numpy()
    agreement = frame_agreement.set_index("frame").reindex(candidates)
    n_labels = agreement["n_labels"].to_numpy(dtype="float64")
    n_matched = agreement["n_matched"].to_numpy(dtype="float64")
    mean_iou = agreement["mean_iou"].to_numpy(dtype="float64")
    measured = ~np.isnan(n_labels)
    share = np.divide(n_matched, n_labels, out=np.full(len(candidates), np.nan), where=measured & (n_labels > 0))

    rules = [
        (REASON_TOO_FEW_PLAYERS, counts < config.min_players),
        (REASON_TOO_MANY_PLAYERS, counts > config.max_players),
        (REASON_LOW_AGREEMENT, measured & (share < config.min_matched_share)),
        (REASON_LOW_IOU, measured & (n_matched > 0) & (mean_iou < config.min_mean_iou)),
        (REASON_NO_AGREEMENT, ~measured & config.require_agreement),
        (REASON_MATCH_NOT_SELECTED, np.full(len(candidates), split is None)),
    ]
    reason = np.full(len(candidates), "", dtype=object)
    for name, failed in rules:
        reason[(reason == "") & failed] = name
    kept = reason == ""

    selected = pd.DataFrame(
        {
            "match_id": pd.array([match_id] * int(kept.sum()), dtype="string"),
            "frame": candidates[kept],
            "split": pd.array([split] * int(kept.sum()), dtype="string"),
        }
    )
    exclusions = pd.DataFrame(
        {
            "match_id": pd.array([match_id] * int((~kept).sum()), dtype="string"),
            "frame": candidates[~kept],
            "reason": pd.array(reason[~kept].tolist(), dtype="string"),
        }
    )
    messages = []
    unmeasured = int((~measured).sum())
    if unmeasured:
        action = "dropped" if config.require_agreement else "judged by their player count only"
        messages.append(f"{unmeasured} of {len(candidates)} candidate frames have no predictions: {action}")
    if split is None:
        messages.append("the match is not selected (or is held): no frame is exported")
    summary: dict[str, object] = {
        "candidates": len(candidates),
        "selected": int(kept.sum()),
        "split": split,
        "excluded_by_reason": {name: int((reason == name).sum()) for name in EXCLUSION_REASONS},
        "messages": messages,
    }
    return FrameSelection(selected=selected, exclusions=exclusions, summary=summary)
