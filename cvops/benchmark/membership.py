"""Which matches are benchmark samples: an append-only table of (match_id, generation, added_at).

Validation matches of the selection join the benchmark the first time they are selected and are never removed or
changed: a model's score can then only be extended, never silently re-based. When the benchmark itself must change
(a labelling error was found, the task changed), ``invalidate`` starts a new generation explicitly; earlier rows
stay for the record, and comparisons use the current generation only.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from cvops.errors import CvopsError

MEMBERSHIP_COLUMNS = ("match_id", "generation", "added_at", "reason")


class BenchmarkError(CvopsError):
    """A change that would break the benchmark's append-only rule."""


def empty_membership() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "match_id": pd.Series(dtype="string"),
            "generation": pd.Series(dtype="int64"),
            "added_at": pd.Series(dtype="datetime64[us, UTC]"),
            "reason": pd.Series(dtype="string"),
        }
    )


def current_generation(membership: pd.DataFrame) -> int:
    """The generation in force: the highest one recorded, 1 for a new benchmark."""
    return int(membership["generation"].max()) if len(membership) else 1


def current_samples(membership: pd.DataFrame) -> list[str]:
    """Match ids of the current generation, in the order they joined."""
    generation = current_generation(membership)
    rows = membership[membership["generation"] == generation].sort_values(["added_at", "match_id"], kind="stable")
    return [str(m) for m in rows["match_id"] if not pd.isna(m)]


def update_membership(
    membership: pd.DataFrame, val_matches: Iterable[str], *, now: pd.Timestamp | None = None
) -> pd.DataFrame:
    """Add the validation matches that are not in the current generation yet; never remove or change a row."""
    now = now or pd.Timestamp.now(tz="UTC")
    generation = current_generation(membership)
    present = set(current_samples(membership))
    new = sorted(set(val_matches) - present)
    if not new:
        return membership
    added = pd.DataFrame(
        {"match_id": new, "generation": generation, "added_at": now, "reason": "selected for validation"}
    )
    updated = pd.concat([membership, added], ignore_index=True) if len(membership) else added
    return updated.astype({"match_id": "string", "generation": "int64", "reason": "string"})


def invalidate(membership: pd.DataFrame, reason: str, *, now: pd.Timestamp | None = None) -> pd.DataFrame:
    """Start a new generation (with a placeholder row recording why); its samples are added by the next update."""
    if not reason.strip():
        raise BenchmarkError("invalidating the benchmark needs a reason (it is recorded for good)")
    now = now or pd.Timestamp.now(tz="UTC")
    marker = pd.DataFrame(
        {
            "match_id": pd.Series([None], dtype="string"),
            "generation": [current_generation(membership) + (1 if len(membership) else 0)],
            "added_at": [now],
            "reason": [f"generation started: {reason.strip()}"],
        }
    )
    return pd.concat([membership, marker], ignore_index=True) if len(membership) else marker


def verify_append_only(before: pd.DataFrame, after: pd.DataFrame) -> None:
    """Raise ``BenchmarkError`` unless ``after`` is ``before`` plus new rows at the end."""
    if len(after) < len(before):
        raise BenchmarkError(f"benchmark rows would be removed ({len(before)} -> {len(after)})")
    columns = list(MEMBERSHIP_COLUMNS)
    kept = after.iloc[: len(before)][columns].reset_index(drop=True)
    original = before[columns].reset_index(drop=True)
    if not kept.astype(str).equals(original.astype(str)):
        changed = (kept.astype(str) != original.astype(str)).any(axis=1)
        first = int(changed.to_numpy().argmax())
        raise BenchmarkError(f"benchmark row {first} would change: {original.iloc[first].to_dict()}")


def current_results(membership: pd.DataFrame, results: pd.DataFrame) -> pd.DataFrame:
    """The ``benchmark_results`` rows of the current generation (earlier generations no longer count)."""
    return results[results["generation"] == current_generation(membership)]


def missing_pairs(membership: pd.DataFrame, results: pd.DataFrame, models: Iterable[str]) -> list[tuple[str, str]]:
    """Every (model version, sample) pair of the current generation without a result, models in the order given.

    A new model needs every sample, a new sample every model, and nothing computed is computed again."""
    samples = current_samples(membership)
    done = current_results(membership, results)
    evaluated = set(zip(done["model_version"], done["match_id"], strict=True))
    return [(model, sample) for model in models for sample in samples if (model, sample) not in evaluated]
