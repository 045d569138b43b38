"""Whether a candidate model replaces production: lower weighted error on the samples both were evaluated on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from cvops.benchmark.leaderboard import Leaderboard, leaderboard
from cvops.metrics import ErrorWeights
from cvops.registry import ModelRegistry, Stage


@dataclass(frozen=True)
class PromotionPolicy:
    """How models are compared and when a candidate replaces production."""

    weights: ErrorWeights = field(default_factory=ErrorWeights)
    """Cost of each kind of error in the weighted error (per ground-truth box)."""
    min_relative_gain: float = 0.02
    """A candidate is promoted when its weighted error is at least this share below production's (2%: smaller
    differences are within the noise of a few benchmark matches)."""


@dataclass(frozen=True)
class PromotionDecision:
    promote: bool
    reason: str
    candidate_error: float | None
    production_error: float | None
    common_samples: int


def decide_promotion(
    candidate: str, production: str | None, board: Leaderboard, *, min_relative_gain: float = 0.02
) -> PromotionDecision:
    """Promote when there is no production model, or when the candidate's weighted error is lower than
    production's by at least ``min_relative_gain`` (2% by default: smaller differences are within the noise of a
    few benchmark matches) on their common samples. ``board`` must compare exactly these two models."""
    candidate_error = board.error_of(candidate)
    n_common = len(board.common_samples)
    if production is None:
        return PromotionDecision(True, "no production model yet", candidate_error, None, n_common)
    production_error = board.error_of(production)
    if candidate_error is None or production_error is None or not n_common:
        return PromotionDecision(
            False,
            "no benchmark samples evaluated for both models yet",
            candidate_error,
            production_error,
            n_common,
        )
    threshold = production_error * (1.0 - min_relative_gain)
    if candidate_error < threshold:
        gain = 1.0 - candidate_error / production_error if production_error else 1.0
        reason = (
            f"weighted error {candidate_error:.4f} vs production {production_error:.4f} "
            f"({gain:.1%} lower, needed {min_relative_gain:.0%}) on {n_common} common samples"
        )
        return PromotionDecision(True, reason, candidate_error, production_error, n_common)
    reason = (
        f"weighted error {candidate_error:.4f} is not {min_relative_gain:.0%} below production's "
        f"{production_error:.4f} on {n_common} common samples"
    )
    return PromotionDecision(False, reason, candidate_error, production_error, n_common)


def decide_candidates(
    registry: ModelRegistry, results: pd.DataFrame, samples: Sequence[str], policy: PromotionPolicy
) -> list[str]:
    """Decide every candidate whose benchmark pairs are complete: promote it, or record once why it stays a
    candidate (the registry's audit log holds every decision). ``results``: the current generation's
    ``benchmark_results``; returns one line per candidate, for a person to read."""
    decisions = []
    for candidate in registry.list(stage=Stage.CANDIDATE):
        evaluated = set(results.loc[results["model_version"] == candidate.version, "match_id"])
        if not samples or not set(samples) <= evaluated:
            decisions.append(f"{candidate.version}: waiting for its benchmark pairs ({len(evaluated)}/{len(samples)})")
            continue
        production = registry.production()
        compared = [candidate.version] + ([production.version] if production else [])
        board = leaderboard(results, models=compared, samples=list(samples), weights=policy.weights)
        decision = decide_promotion(
            candidate.version,
            production.version if production else None,
            board,
            min_relative_gain=policy.min_relative_gain,
        )
        if decision.promote:
            registry.promote(candidate.version, reason=decision.reason)
        elif not _already_rejected(registry, candidate.version, decision.reason):
            registry.reject(candidate.version, reason=decision.reason)
        verdict = "promoted" if decision.promote else "stays candidate"
        decisions.append(f"{candidate.version}: {verdict}: {decision.reason}")
    return decisions


def _already_rejected(registry: ModelRegistry, version: str, reason: str) -> bool:
    """A rejection with the same reason is recorded once, not on every benchmark refresh."""
    return any(
        entry.get("version") == version and entry.get("action") == "reject" and entry.get("reason") == reason
        for entry in registry.audit_log()
    )
