"""The statistics that describe one match, computed from its manifest tables (see docs/drift.md).

A match is summarised by a few *distributions* (one value per frame or per box) and a few *scalars* (one value
per match). Drift tests compare a match's distributions with those of other matches, so each distribution keeps a
sample of its raw values: at most ``max_samples`` of them, drawn without replacement with a generator seeded
from the match id and the statistic (the same inputs always give the same sample, in any process). The sample is
stored in random order, so any prefix of it is itself a random subsample: the reference pool takes prefixes to
give every reference match the same weight.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cvops.errors import InputError
from cvops.labels.summary import PLAYER_ROLES, players_per_frame
from cvops.selection.frames import REASON_MATCH_NOT_SELECTED

PLAYERS_PER_FRAME = "players_per_frame"
BOX_WIDTH = "box_width"
BOX_HEIGHT = "box_height"
BOX_AREA = "box_area"
MATCHED_SHARE = "matched_share"
MEAN_IOU = "mean_iou"
DISTRIBUTIONS = (PLAYERS_PER_FRAME, BOX_WIDTH, BOX_HEIGHT, BOX_AREA, MATCHED_SHARE, MEAN_IOU)
"""Per-frame or per-box statistics, compared as distributions."""
AGREEMENT_DISTRIBUTIONS = (MATCHED_SHARE, MEAN_IOU)
"""Distributions that depend on the predictions: only comparable between matches judged by the same source."""

KEPT_SHARE = "kept_share"
FRESHNESS_DAYS = "freshness_days"
SCALARS = (KEPT_SHARE, FRESHNESS_DAYS)
"""Per-match statistics, compared with the spread of the reference matches."""

NO_PREDICTIONS = "none"
DEFAULT_MAX_SAMPLES = 2000


@dataclass(frozen=True, eq=False)
class Distribution:
    """One distribution statistic of a match: counts and centre of all its values, and a sample of them.

    ``n``, ``mean`` and ``median`` describe every value (NaN when there are none); ``sample`` holds at most
    ``max_samples`` of them in random order (``eq=False``: arrays have no single truth value).
    """

    n: int
    mean: float
    median: float
    sample: np.ndarray


@dataclass(frozen=True, eq=False)
class MatchStatistics:
    """Everything the drift tests know about one match.

    Attributes:
        match_id: the match.
        prediction_source: the ``source`` of the match's predictions (``det.txt``, a model, or ``none``); the
            agreement statistics of two matches are only comparable when their sources agree.
        n_frames: video frames counted for players per frame (frames without players count 0).
        n_player_boxes: player and goalkeeper boxes in the cleaned labels.
        candidate_frames: frames the frame selection considered.
        kept_frames: candidates that passed the frame rules (a frame dropped only because its match is not
            exported counts as kept: that is a decision about the match, not about the frame).
        agreement_frames: frames with labelled players and predictions (the agreement samples' frames).
        annotated_at: when the labels entered the platform.
        freshness_days: ``annotated_at - kickoff`` in days: how old the labels were when they arrived (NaN when
            the kickoff is unknown).
        distributions: one :class:`Distribution` per name of ``DISTRIBUTIONS``.
    """

    match_id: str
    prediction_source: str
    n_frames: int
    n_player_boxes: int
    candidate_frames: int
    kept_frames: int
    agreement_frames: int
    annotated_at: pd.Timestamp | None
    freshness_days: float
    distributions: Mapping[str, Distribution] = field(default_factory=dict)

    @property
    def kept_share(self) -> float:
        """Share of candidate frames that passed the frame rules (NaN without candidates)."""
        return self.kept_frames / self.candidate_frames if self.candidate_frames else math.nan

    @property
    def scalars(self) -> dict[str, float]:
        return {KEPT_SHARE: self.kept_share, FRESHNESS_DAYS: self.freshness_days}

    def sample(self, name: str) -> np.ndarray:
        return self.distributions[name].sample

    def as_row(self) -> dict[str, object]:
        """The ``match_statistics`` row of this match (columns of ``MATCH_STATISTICS_TABLE``, plus match_id)."""
        row: dict[str, object] = {
            "match_id": self.match_id,
            "prediction_source": self.prediction_source,
            "annotated_at": self.annotated_at,
            "freshness_days": self.freshness_days,
            "n_frames": self.n_frames,
            "n_player_boxes": self.n_player_boxes,
            "candidate_frames": self.candidate_frames,
            "kept_frames": self.kept_frames,
            "kept_share": self.kept_share,
            "agreement_frames": self.agreement_frames,
        }
        for name in DISTRIBUTIONS:
            dist = self.distributions[name]
            row[f"{name}_n"] = dist.n
            row[f"{name}_mean"] = dist.mean
            row[f"{name}_median"] = dist.median
            row[f"{name}_sample"] = dist.sample.astype(np.float64)
        return row

    def as_frame(self) -> pd.DataFrame:
        """``as_row`` as a one-row DataFrame, ready for ``catalog.write("match_statistics", ...)``."""
        return pd.DataFrame([self.as_row()])

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> MatchStatistics:
        """Rebuild the statistics from a ``match_statistics`` row (a dict or a pandas row)."""
        annotated_at = row["annotated_at"]
        distributions = {
            name: Distribution(
                n=int(row[f"{name}_n"]),
                mean=float(row[f"{name}_mean"]),
                median=float(row[f"{name}_median"]),
                sample=np.asarray(row[f"{name}_sample"], dtype=np.float64),
            )
            for name in DISTRIBUTIONS
        }
        return cls(
            match_id=str(row["match_id"]),
            prediction_source=str(row["prediction_source"]),
            n_frames=int(row["n_frames"]),
            n_player_boxes=int(row["n_player_boxes"]),
            candidate_frames=int(row["candidate_frames"]),
            kept_frames=int(row["kept_frames"]),
            agreement_frames=int(row["agreement_frames"]),
            annotated_at=None if pd.isna(annotated_at) else pd.Timestamp(annotated_at),
            freshness_days=float(row["freshness_days"]),
            distributions=distributions,
        )


def match_statistics(
    match_id: str,
    *,
    cleaned_tracks: pd.DataFrame,
    selected_frames: pd.DataFrame,
    frame_exclusions: pd.DataFrame,
    frame_agreement: pd.DataFrame,
    prediction_source: str = NO_PREDICTIONS,
    n_frames: int | None = None,
    kickoff: pd.Timestamp | None = None,
    annotated_at: pd.Timestamp | None = None,
    max_samples: int = DEFAULT_MAX_SAMPLES,
) -> MatchStatistics:
    """Compute one match's statistics from its manifests (all in video frame numbering).

    ``n_frames`` (from ``matches``) makes frames without any player count as 0 players; without it only frames
    that have labels are counted. Empty tables are fine: their distributions are simply empty, and the drift
    comparison skips them with a message.
    """
    if max_samples < 1:
        raise InputError(f"max_samples must be at least 1, got {max_samples}", field="max_samples", match_id=match_id)
    _require(cleaned_tracks, ("frame", "role", "w", "h"), "cleaned_tracks", match_id)
    _require(selected_frames, ("frame",), "selected_frames", match_id)
    _require(frame_exclusions, ("frame", "reason"), "frame_exclusions", match_id)
    _require(frame_agreement, ("frame", "n_labels", "n_matched", "mean_iou"), "frame_agreement", match_id)

    counts = players_per_frame(cleaned_tracks, n_frames).to_numpy(dtype=np.float64)
    players = cleaned_tracks[cleaned_tracks["role"].isin(PLAYER_ROLES)]
    widths = players["w"].to_numpy(dtype=np.float64)
    heights = players["h"].to_numpy(dtype=np.float64)
    labelled = frame_agreement[frame_agreement["n_labels"] > 0]
    matched_share = (labelled["n_matched"] / labelled["n_labels"]).to_numpy(dtype=np.float64)
    mean_iou = labelled["mean_iou"].to_numpy(dtype=np.float64)
    mean_iou = mean_iou[np.isfinite(mean_iou)]

    box_rows = _sample_index(len(players), max_samples, match_id, "boxes")
    distributions = {
        PLAYERS_PER_FRAME: _distribution(counts, _sample_index(len(counts), max_samples, match_id, PLAYERS_PER_FRAME)),
        BOX_WIDTH: _distribution(widths, box_rows),
        BOX_HEIGHT: _distribution(heights, box_rows),
        BOX_AREA: _distribution(widths * heights, box_rows),
        MATCHED_SHARE: _distribution(
            matched_share, _sample_index(len(matched_share), max_samples, match_id, MATCHED_SHARE)
        ),
        MEAN_IOU: _distribution(mean_iou, _sample_index(len(mean_iou), max_samples, match_id, MEAN_IOU)),
    }
    passed_rules = len(selected_frames) + int((frame_exclusions["reason"] == REASON_MATCH_NOT_SELECTED).sum())
    return MatchStatistics(
        match_id=match_id,
        prediction_source=prediction_source or NO_PREDICTIONS,
        n_frames=len(counts),
        n_player_boxes=len(players),
        candidate_frames=len(selected_frames) + len(frame_exclusions),
        kept_frames=passed_rules,
        agreement_frames=len(labelled),
        annotated_at=_timestamp(annotated_at),
        freshness_days=freshness_days(kickoff, annotated_at),
        distributions=distributions,
    )


def prediction_source_of(predictions: pd.DataFrame) -> str:
    """The source of a match's predictions (``match_predictions.source``); ``none`` when it has none.

    A match's predictions all come from one source; should a table hold several, they are joined with ``+`` so
    the statistics never pretend to be comparable with a single-source match.
    """
    if predictions.empty or "source" not in predictions.columns:
        return NO_PREDICTIONS
    sources = sorted({str(s) for s in predictions["source"].dropna()})
    return "+".join(sources) if sources else NO_PREDICTIONS


def freshness_days(kickoff: pd.Timestamp | None, annotated_at: pd.Timestamp | None) -> float:
    """Days between kickoff and annotation (NaN when either is unknown)."""
    start, end = _timestamp(kickoff), _timestamp(annotated_at)
    if start is None or end is None:
        return math.nan
    return (end - start).total_seconds() / 86400.0


def _timestamp(value: pd.Timestamp | None) -> pd.Timestamp | None:
    if value is None or pd.isna(value):
        return None
    stamp = pd.Timestamp(value)
    # matches.csv times are UTC; a naive one (hand-made data) is read as UTC so subtraction never fails.
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp


def _sample_index(n: int, max_samples: int, match_id: str, purpose: str) -> np.ndarray:
    """Positions of a random subsample of at most ``max_samples`` of ``n`` values, in random order.

    Seeded with ``crc32`` of the match and purpose (not ``hash``, which changes between processes).
    """
    rng = np.random.default_rng(zlib.crc32(f"{match_id}/{purpose}".encode()))
    return rng.permutation(n)[:max_samples]


def _distribution(values: np.ndarray, sample_index: np.ndarray) -> Distribution:
    if len(values) == 0:
        return Distribution(n=0, mean=math.nan, median=math.nan, sample=np.empty(0, dtype=np.float64))
    return Distribution(
        n=len(values),
        mean=float(np.mean(values)),
        median=float(np.median(values)),
        sample=values[sample_index].astype(np.float64),
    )


def _require(frame: pd.DataFrame, columns: tuple[str, ...], table: str, match_id: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{table} lacks column(s) {', '.join(missing)}", field=missing[0], match_id=match_id)
