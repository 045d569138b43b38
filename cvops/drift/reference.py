"""Which matches a match is compared with.

The reference should be the matches of the latest dataset version: the data the current model was trained on,
so "drift" means "unlike what the model has seen". Until dataset versions record their matches in the catalog,
the platform's default is every *other* match that already has statistics, and callers may name the matches
explicitly instead (``reference_ids``).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from cvops.drift.stats import MatchStatistics


def reference_statistics(
    table: pd.DataFrame, match_id: str, reference_ids: Sequence[str] | None = None
) -> list[MatchStatistics]:
    """The reference matches' statistics from ``match_statistics`` rows, never including ``match_id`` itself.

    ``reference_ids`` None means every other match in ``table``; otherwise only those of the named matches that
    have statistics (compare the result's ids with ``reference_ids`` to see which are missing).
    """
    rows = table[table["match_id"].astype(str) != match_id]
    if reference_ids is not None:
        rows = rows[rows["match_id"].astype(str).isin(set(reference_ids))]
    rows = rows.sort_values("match_id", kind="stable")
    return [MatchStatistics.from_row(row) for row in rows.to_dict("records")]
