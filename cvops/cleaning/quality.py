"""Scoring a cleaning result against known truth (synthetic matches, or a hand-checked real one).

The benchmark (``benchmarks/cleaning_quality.py``) and the quality test share these definitions, so the figures
in ``docs/benchmarks.md`` and the bar the test asserts mean the same thing:

* sync: a shifted match counts as exact when the applied offset equals the true one; an unshifted match fails
  when any offset is applied;
* ghost rows: ``(label frame, track_id)`` pairs removed with reason ``ghost`` compared with the truth's
  inclusive ghost frame ranges (recall, precision);
* kept rows: the share of the raw rows that are not ghosts which were removed as ghosts anyway;
* sync margin: the largest error of the refined (sub-frame) offset on shifted matches, and the largest refined
  offset on unshifted ones (NaN without predictions), to compare with ``SyncConfig.min_abs_offset``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

import pandas as pd

from cvops.cleaning.clean import REASON_GHOST, CleaningResult


@dataclass(frozen=True)
class MatchScore:
    """How one cleaned match compares with its truth."""

    match_id: str
    true_offset: int
    offset: int
    refined_offset: float
    ghost_rows_true: int
    ghost_rows_removed: int
    ghost_rows_hit: int
    other_rows: int
    other_rows_removed: int


def ghost_rows(ghosts: pd.DataFrame) -> set[tuple[int, int]]:
    """``(label frame, track_id)`` of every row inside ``ghosts``' inclusive ``start_frame..end_frame`` ranges."""
    rows: set[tuple[int, int]] = set()
    for track_id, start, end in ghosts[["track_id", "start_frame", "end_frame"]].itertuples(index=False):
        rows.update((frame, int(track_id)) for frame in range(int(start), int(end) + 1))
    return rows


def score_match(raw_labels: pd.DataFrame, result: CleaningResult, true_offset: int, ghosts: pd.DataFrame) -> MatchScore:
    """Compare ``result`` (from ``clean_match`` on ``raw_labels``) with the true offset and ghost ranges."""
    raw_rows = set(zip(raw_labels["frame"].tolist(), raw_labels["track_id"].tolist(), strict=True))
    true_ghosts = ghost_rows(ghosts) & raw_rows
    removed = result.label_removals[result.label_removals["reason"] == REASON_GHOST]
    removed_rows = set(zip(removed["frame"].tolist(), removed["track_id"].tolist(), strict=True))
    return MatchScore(
        match_id=result.match_id,
        true_offset=true_offset,
        offset=result.sync.offset,
        refined_offset=result.sync.refined_offset,
        ghost_rows_true=len(true_ghosts),
        ghost_rows_removed=len(removed_rows),
        ghost_rows_hit=len(removed_rows & true_ghosts),
        other_rows=len(raw_rows - true_ghosts),
        other_rows_removed=len(removed_rows - true_ghosts),
    )


@dataclass(frozen=True)
class QualityFigures:
    """The figures of a set of matches, as the quality bar states them (see the module docstring)."""

    matches: int
    shifted: int
    shifted_exact: int
    unshifted: int
    unshifted_shifted: int
    ghost_rows_true: int
    ghost_rows_removed: int
    ghost_recall: float
    ghost_precision: float
    other_rows_removed_share: float
    refined_error_shifted: float
    refined_abs_unshifted: float

    @property
    def sync_exact_share(self) -> float:
        return self.shifted_exact / self.shifted if self.shifted else 1.0


def quality_figures(scores: Iterable[MatchScore]) -> QualityFigures:
    table = pd.DataFrame([asdict(s) for s in scores])
    shifted = table[table["true_offset"] != 0]
    unshifted = table[table["true_offset"] == 0]
    hit = int(table["ghost_rows_hit"].sum())
    true_rows = int(table["ghost_rows_true"].sum())
    removed = int(table["ghost_rows_removed"].sum())
    return QualityFigures(
        matches=len(table),
        shifted=len(shifted),
        shifted_exact=int((shifted["offset"] == shifted["true_offset"]).sum()),
        unshifted=len(unshifted),
        unshifted_shifted=int((unshifted["offset"] != 0).sum()),
        ghost_rows_true=true_rows,
        ghost_rows_removed=removed,
        ghost_recall=hit / true_rows if true_rows else 1.0,
        ghost_precision=hit / removed if removed else 1.0,
        other_rows_removed_share=int(table["other_rows_removed"].sum()) / max(int(table["other_rows"].sum()), 1),
        refined_error_shifted=float((shifted["refined_offset"] - shifted["true_offset"]).abs().max()),
        refined_abs_unshifted=float(unshifted["refined_offset"].abs().max()),
    )
