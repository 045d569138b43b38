"""Re-ID identities: (match_id, track_id) pairs mapped to the contiguous class indices of the id classifier.

Track ids are only unique within a match, so the identity is the pair. The mapping is sorted rather than
taken in order of appearance, so the same labels always give the same map whatever the row order; it is
saved with the model because the id classifier's rows mean nothing without it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

UNKNOWN_IDENTITY = -1
"""Index of an object whose identity is not in the map (e.g. a val match): ignored by the id loss."""


@dataclass(frozen=True)
class IdentityMap:
    """Sorted (match_id, track_id) pairs; a pair's position is its class index."""

    keys: tuple[tuple[str, int], ...]
    _index: dict[tuple[str, int], int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if list(self.keys) != sorted(set(self.keys)):
            raise ValueError("identity keys must be sorted and unique")
        object.__setattr__(self, "_index", {key: index for index, key in enumerate(self.keys)})

    @classmethod
    def from_labels(cls, labels: pd.DataFrame) -> IdentityMap:
        """The map of every (match_id, track_id) pair in ``labels``."""
        pairs = {(str(m), int(t)) for m, t in zip(labels["match_id"], labels["track_id"], strict=True)}
        return cls(tuple(sorted(pairs)))

    @classmethod
    def from_records(cls, records: Iterable[Sequence[str | int]]) -> IdentityMap:
        """Inverse of :meth:`to_records` (what a checkpoint stores)."""
        return cls(tuple((str(m), int(t)) for m, t in records))

    def to_records(self) -> list[list[str | int]]:
        return [[match_id, track_id] for match_id, track_id in self.keys]

    def __len__(self) -> int:
        return len(self.keys)

    def lookup(self, match_ids: Iterable[str], track_ids: Iterable[int]) -> np.ndarray:
        """Class index of each pair, :data:`UNKNOWN_IDENTITY` for pairs not in the map."""
        return np.array(
            [self._index.get((str(m), int(t)), UNKNOWN_IDENTITY) for m, t in zip(match_ids, track_ids, strict=True)],
            dtype=np.int64,
        )
