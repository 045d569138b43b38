"""When a new dataset version (and a retrained model) is worth making: enough ready samples the latest version
lacks."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class RetrainPolicy:
    """Retrain when enough selected, extracted samples are not in the latest dataset version yet."""

    min_new_samples: int = 200
    """New ready samples that trigger a new dataset version and a retrain."""


def samples_not_in_latest_version(candidates: pd.DataFrame, dataset_samples: pd.DataFrame) -> list[tuple[str, int]]:
    """``(match_id, frame)`` of the candidate samples that the latest version (in ``dataset_samples``) lacks."""
    latest = dataset_samples[dataset_samples["version"] == dataset_samples["version"].max()]
    in_latest = set(zip(latest["match_id"], latest["frame"], strict=True))
    keys = zip(candidates["match_id"], candidates["frame"], strict=True)
    return [(str(match_id), int(frame)) for match_id, frame in keys if (match_id, frame) not in in_latest]


def samples_fingerprint(samples: list[tuple[str, int]]) -> str:
    """A short, order-independent name for a set of samples (the retrain sensor's run key: one run per set)."""
    return hashlib.sha256(repr(sorted(samples)).encode()).hexdigest()[:16]
