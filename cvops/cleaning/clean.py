"""The whole cleaning of one match: sync offset, ghost removal, renumbering to video frames, agreement.

``clean_match`` is what the ``cleaned_tracks`` asset calls. It never raises on bad content (no predictions,
predictions for other frames, no players, unusable rows): it does what the evidence allows and says what it
could not do in ``CleaningResult.messages``. Only inputs that are not the expected tables at all raise
``InputError``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cvops.cleaning.agreement import AgreementConfig, frame_agreement, summarize_agreement
from cvops.cleaning.ghosts import RULE_GEOMETRY, RULE_PREDICTIONS, GhostConfig, find_ghosts
from cvops.cleaning.inputs import (
    REASON_DUPLICATE,
    REASON_INVALID_BOX,
    VideoInfo,
    prepare_labels,
    prepare_predictions,
)
from cvops.cleaning.sync import SyncConfig, SyncEstimate, estimate_offset

REASON_GHOST = "ghost"
REASON_OUTSIDE_VIDEO = "outside_video"
REMOVAL_REASONS = (REASON_GHOST, REASON_INVALID_BOX, REASON_DUPLICATE, REASON_OUTSIDE_VIDEO)

CLEANED_COLUMNS = ("match_id", "frame", "track_id", "role", "x", "y", "w", "h")
REMOVAL_COLUMNS = ("match_id", "frame", "track_id", "reason")
SYNC_COLUMNS = ("match_id", "offset", "score", "score_at_zero", "applied", "best_offset", "refined_offset")


@dataclass(frozen=True)
class CleaningConfig:
    """All cleaning parameters; each part is documented on its own class."""

    sync: SyncConfig = field(default_factory=SyncConfig)
    ghosts: GhostConfig = field(default_factory=GhostConfig)
    agreement: AgreementConfig = field(default_factory=AgreementConfig)


@dataclass(frozen=True)
class CleaningResult:
    """The cleaned match and everything that explains it.

    Tables (all carry ``match_id`` first):

    * ``match_sync``: one row, ``offset`` (in effect: cleaned frame = label frame + offset), ``score``,
      ``score_at_zero``, ``applied``, ``best_offset`` (the best candidate, even when not applied),
      ``refined_offset`` (the sub-frame estimate);
    * ``cleaned_tracks``: the kept label rows renumbered to video frames;
    * ``label_removals``: every raw row not kept, in **label** frame numbering, with its reason;
    * ``frame_agreement``: per video frame with predictions, labelled players, matched players, mean IoU;
    * ``ghost_spans``: every examined span with its evidence and verdict (for inspection, not a contract).
    """

    match_id: str
    sync: SyncEstimate
    match_sync: pd.DataFrame
    cleaned_tracks: pd.DataFrame
    label_removals: pd.DataFrame
    frame_agreement: pd.DataFrame
    ghost_spans: pd.DataFrame
    summary: dict[str, object]
    messages: list[str]


def clean_match(
    match_id: str,
    raw_labels: pd.DataFrame,
    predictions: pd.DataFrame | None,
    video: VideoInfo,
    config: CleaningConfig | None = None,
) -> CleaningResult:
    """Clean one match's raw labels (label frames) against its predictions (video frames, may be ``None``)."""
    config = config or CleaningConfig()
    labels, rejected, messages = prepare_labels(raw_labels, match_id)
    preds, prediction_messages = prepare_predictions(predictions, video, match_id)
    messages += prediction_messages

    sync = estimate_offset(labels, preds, video, config.sync)
    messages.append(sync.message)
    ghosts = find_ghosts(labels, preds, sync.offset, video, config.ghosts)
    messages += ghosts.messages

    keep = np.ones(len(labels), dtype=bool)
    keep[ghosts.removed] = False
    video_frames = labels["frame"].to_numpy(dtype=np.int64) + sync.offset
    outside = keep & ((video_frames < 1) | (video_frames > video.n_frames))
    if outside.any():
        messages.append(
            f"{int(outside.sum())} label rows fall outside the video's frames 1..{video.n_frames} "
            f"after the offset {sync.offset:+d} and were removed"
        )
    keep &= ~outside

    removals = pd.concat(
        [
            _removals(rejected, rejected["reason"]),
            _removals(labels.iloc[ghosts.removed], REASON_GHOST),
            _removals(labels[outside], REASON_OUTSIDE_VIDEO),
        ],
        ignore_index=True,
    )
    removals = removals.sort_values(["frame", "track_id"], kind="stable").reset_index(drop=True)
    removals.insert(0, "match_id", match_id)

    cleaned = labels[keep].assign(frame=video_frames[keep])
    cleaned = cleaned.sort_values(["frame", "track_id"], kind="stable").reset_index(drop=True)
    cleaned.insert(0, "match_id", match_id)
    cleaned = cleaned[list(CLEANED_COLUMNS)]

    agreement = frame_agreement(cleaned, preds, config.agreement)
    agreement.insert(0, "match_id", match_id)
    if not (cleaned["role"].isin(config.agreement.roles)).any():
        messages.append("no players in the cleaned labels: every frame will fail the player count")

    match_sync = pd.DataFrame(
        {
            "match_id": [match_id],
            "offset": [sync.offset],
            "score": [sync.score],
            "score_at_zero": [sync.score_at_zero],
            "applied": [sync.applied],
            "best_offset": [sync.best_offset],
            "refined_offset": [sync.refined_offset],
        }
    ).astype({"offset": "int64", "best_offset": "int64", "score": "float64", "score_at_zero": "float64"})

    removed_by_reason = {reason: int((removals["reason"] == reason).sum()) for reason in REMOVAL_REASONS}
    spans = ghosts.spans
    summary: dict[str, object] = {
        "offset": sync.offset,
        "offset_applied": sync.applied,
        "best_offset": sync.best_offset,
        "sync_score": _finite_or_none(sync.score),
        "sync_score_at_zero": _finite_or_none(sync.score_at_zero),
        "sync_refined_offset": _finite_or_none(sync.refined_offset),
        "sync_z": _finite_or_none(sync.z),
        "sync_frames_used": sync.n_frames_used,
        "rows_in": len(raw_labels),
        "rows_kept": len(cleaned),
        "rows_removed": removed_by_reason,
        "spans_examined": len(spans),
        "ghost_spans": int(spans["is_ghost"].sum()),
        "ghost_spans_by_rule": {rule: int((spans["rule"] == rule).sum()) for rule in (RULE_PREDICTIONS, RULE_GEOMETRY)},
        "prediction_baseline": _finite_or_none(ghosts.baseline),
        "ghosts_used_predictions": ghosts.used_predictions,
        "predictions_used": len(preds),
        "agreement": summarize_agreement(agreement),
        "messages": messages,
    }
    return CleaningResult(
        match_id=match_id,
        sync=sync,
        match_sync=match_sync[list(SYNC_COLUMNS)],
        cleaned_tracks=cleaned,
        label_removals=removals[list(REMOVAL_COLUMNS)],
        frame_agreement=agreement,
        ghost_spans=spans.assign(match_id=match_id)[["match_id", *spans.columns]],
        summary=summary,
        messages=messages,
    )


def _removals(rows: pd.DataFrame, reason: str | pd.Series) -> pd.DataFrame:
    reasons = reason.to_numpy() if isinstance(reason, pd.Series) else [reason] * len(rows)
    return pd.DataFrame(
        {
            "frame": rows["frame"].to_numpy(dtype=np.int64),
            "track_id": rows["track_id"].to_numpy(dtype=np.int64),
            "reason": pd.array(reasons, dtype="string"),
        }
    )


def _finite_or_none(value: float) -> float | None:
    """JSON-safe metadata value: NaN (not measured) and infinities become None."""
    return round(float(value), 4) if math.isfinite(value) else None
