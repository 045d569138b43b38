"""The dynamic benchmark: samples that are only ever added, results stored per sample, fair comparisons.

Following the seed's design: once a match is in the benchmark it stays (a new *generation* starts only when
someone invalidates the benchmark on purpose), metrics are kept per (model, sample), so a new sample costs one
evaluation per existing model and a new model one evaluation per sample, and models are only ever compared on
the samples they share.
"""

from cvops.benchmark.leaderboard import Leaderboard, LeaderboardRow, leaderboard
from cvops.benchmark.membership import (
    BenchmarkError,
    current_generation,
    current_results,
    current_samples,
    invalidate,
    missing_pairs,
    update_membership,
    verify_append_only,
)
from cvops.benchmark.promotion import PromotionDecision, PromotionPolicy, decide_candidates, decide_promotion

__all__ = [
    "BenchmarkError",
    "Leaderboard",
    "LeaderboardRow",
    "PromotionDecision",
    "PromotionPolicy",
    "current_generation",
    "current_results",
    "current_samples",
    "decide_candidates",
    "decide_promotion",
    "invalidate",
    "leaderboard",
    "missing_pairs",
    "update_membership",
    "verify_append_only",
]
