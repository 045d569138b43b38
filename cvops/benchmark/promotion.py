"""Whether a candidate model replaces production: lower weighted error on the samples both were evaluated on."""

from __future__ import annotations

from dataclasses import dataclass

from cvops.benchmark.leaderboard import Leaderboard


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
