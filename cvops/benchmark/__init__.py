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
    current_samples,
    invalidate,
    update_membership,
    verify_append_only,
)
from cvops.benchmark.promotion import PromotionDecision, decide_promotion

__all__ = [
    "BenchmarkError",
    "Leaderboard",
    "LeaderboardRow",
    "PromotionDecision",
    "current_generation",
    "current_samples",
    "decide_promotion",
    "invalidate",
    "leaderboard",
    "update_membership",
    "verify_append_only",
]
