"""Ranking models fairly on a benchmark that grows: only on the samples every compared model was evaluated on."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from cvops.metrics import ErrorWeights, SequenceMetrics, combine, weighted_error


@dataclass(frozen=True)
class LeaderboardRow:
    model_version: str
    samples: int
    weighted_error: float
    metrics: SequenceMetrics


@dataclass(frozen=True)
class Leaderboard:
    """Models ranked by weighted error (lowest first) over ``common_samples``."""

    rows: list[LeaderboardRow]
    common_samples: list[str]
    weights: ErrorWeights

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "rank": rank,
                    "model_version": row.model_version,
                    "weighted_error": row.weighted_error,
                    "hota": row.metrics.hota,
                    "deta": row.metrics.deta,
                    "assa": row.metrics.assa,
                    "mota": row.metrics.mota,
                    "idf1": row.metrics.idf1,
                    "id_switches": row.metrics.id_switches,
                    "fp": row.metrics.fp,
                    "fn": row.metrics.fn,
                    "samples": row.samples,
                }
                for rank, row in enumerate(self.rows, start=1)
            ]
        )

    def markdown(self) -> str:
        if not self.rows:
            return "No model has results on a common set of samples yet."
        frame = self.to_frame().round(4)
        header = (
            f"{len(self.common_samples)} common samples; weighted error = ({self.weights.fn:g} FN + "
            f"{self.weights.fp:g} FP + {self.weights.id_switches:g} IDSW) / ground-truth boxes\n\n"
        )
        return header + frame.to_markdown(index=False)

    def error_of(self, model_version: str) -> float | None:
        return next((r.weighted_error for r in self.rows if r.model_version == model_version), None)


def leaderboard(
    results: pd.DataFrame,
    *,
    models: Sequence[str] | None = None,
    samples: Sequence[str] | None = None,
    weights: ErrorWeights | None = None,
) -> Leaderboard:
    """Aggregate per-sample results (``model_version, match_id, stats``) over the samples all ``models`` share.

    ``stats`` holds ``SequenceMetrics.as_dict(with_stats=True)`` as JSON, so sequences combine exactly as TrackEval
    combines them (HOTA over all boxes, not a mean of per-sample HOTAs). ``samples`` restricts to the benchmark's
    current samples; ``models`` defaults to every model with results.
    """
    weights = weights or ErrorWeights()
    if samples is not None:
        results = results[results["match_id"].isin(list(samples))]
    chosen = sorted(set(results["model_version"])) if models is None else list(models)
    per_model = {m: set(results.loc[results["model_version"] == m, "match_id"]) for m in chosen}
    common = sorted(set.intersection(*per_model.values())) if per_model else []
    rows = []
    if common:
        for model in chosen:
            mine = results[(results["model_version"] == model) & results["match_id"].isin(common)]
            metrics = combine(SequenceMetrics.from_dict(json.loads(text)) for text in mine["stats"])
            rows.append(LeaderboardRow(model, len(mine), weighted_error(metrics, weights), metrics))
    rows.sort(key=lambda r: (r.weighted_error, r.model_version))
    return Leaderboard(rows=rows, common_samples=common, weights=weights)


def per_sample(
    results: pd.DataFrame,
    *,
    models: Sequence[str] | None = None,
    samples: Sequence[str] | None = None,
    weights: ErrorWeights | None = None,
) -> pd.DataFrame:
    """Each model's weighted error and HOTA on each sample: ``match_id, model_version, weighted_error, hota``
    (where a leaderboard's totals came from: which samples a model gained or lost on)."""
    weights = weights or ErrorWeights()
    if samples is not None:
        results = results[results["match_id"].isin(list(samples))]
    if models is not None:
        results = results[results["model_version"].isin(list(models))]
    rows = []
    for model, match, text in zip(results["model_version"], results["match_id"], results["stats"], strict=True):
        metrics = SequenceMetrics.from_dict(json.loads(text))
        rows.append(
            {
                "match_id": match,
                "model_version": model,
                "weighted_error": weighted_error(metrics, weights),
                "hota": metrics.hota,
            }
        )
    columns = ["match_id", "model_version", "weighted_error", "hota"]
    return pd.DataFrame(rows, columns=columns).sort_values(["match_id", "model_version"], ignore_index=True)
