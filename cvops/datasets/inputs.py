"""Checking the DataFrames an export receives (``samples`` and ``labels``) before anything is written.

Errors name the input, the 1-based row, the field and the match, so a bad upstream row is easy to find.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cvops.datasets.layout import LABEL_COLUMNS, SPLITS
from cvops.errors import InputError
from cvops.labels import ROLES, validate_match_id

SAMPLE_COLUMNS = ("match_id", "frame", "split", "group_key", "source_path")


def _require_columns(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", file=name, field=missing[0])


def _first_bad(mask: pd.Series) -> int | None:
    positions = np.flatnonzero(mask.to_numpy(dtype=bool))
    return int(positions[0]) if len(positions) else None


def _integers(frame: pd.DataFrame, column: str, name: str, *, minimum: int) -> pd.Series:
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna() | (values != values.round()) | (values < minimum)
    row = _first_bad(bad)
    if row is not None:
        raise InputError(
            f"expected an integer >= {minimum}, got {frame[column].iloc[row]!r}",
            file=name, row=row + 1, field=column, match_id=str(frame["match_id"].iloc[row]),
        )  # fmt: skip
    return values.astype("int64")


def _sorted_unique(frame: pd.DataFrame, keys: list[str]) -> tuple[pd.DataFrame, int | None]:
    """``frame`` sorted by match_id then ``keys`` (integers), and the 0-based input row of the first duplicate key
    (the later of two equal rows, as ``DataFrame.duplicated`` marks it), or None.

    Written with numpy instead of ``sort_values`` + ``duplicated`` because exports take millions of rows and
    the input usually comes sorted already: checking that costs one pass, sorting and hashing cost ten.
    """
    codes, _ = pd.factorize(frame["match_id"], sort=True)
    columns = [codes, *(frame[key].to_numpy(np.int64) for key in keys)]
    before, after = slice(None, -1), slice(1, None)
    in_order = np.ones(max(len(frame) - 1, 0), dtype=bool)
    for column in reversed(columns):  # lexicographic: the first key decides, ties go to the next
        in_order = (column[before] < column[after]) | ((column[before] == column[after]) & in_order)
    if not in_order.all():
        order = np.lexsort(columns[::-1])
        frame = frame.iloc[order].reset_index(drop=True)
        columns = [column[order] for column in columns]
    else:
        order = np.arange(len(frame))
    equal = np.ones(max(len(frame) - 1, 0), dtype=bool)
    for column in columns:
        equal &= column[before] == column[after]
    if not equal.any():
        return frame, None
    pairs = np.flatnonzero(equal)
    later = np.maximum(order[pairs], order[pairs + 1])
    position = int(later.min())
    return frame, position


def _match_ids(frame: pd.DataFrame, name: str) -> pd.Series:
    """Check each distinct id once (the row named is its first occurrence); ids become folder names."""
    ids = frame["match_id"]
    for position, match_id in ids.drop_duplicates().items():
        try:
            validate_match_id(match_id)
        except InputError as exc:
            raise InputError(exc.message, file=name, row=int(position) + 1, field="match_id") from None
    return ids.astype("string")


def validate_samples(samples: pd.DataFrame) -> pd.DataFrame:
    """The samples to export, checked and sorted by (match_id, frame)."""
    name = "samples"
    _require_columns(samples, SAMPLE_COLUMNS, name)
    if samples.empty:
        raise InputError("no samples to export", file=name)
    frame = samples.reset_index(drop=True)
    out = pd.DataFrame({"match_id": _match_ids(frame, name)})
    out["frame"] = _integers(frame, "frame", name, minimum=0)
    split = frame["split"].astype("string")
    row = _first_bad(~split.isin(SPLITS).fillna(False))
    if row is not None:
        raise InputError(
            f"split must be one of {', '.join(SPLITS)}, got {frame['split'].iloc[row]!r}",
            file=name, row=row + 1, field="split", match_id=str(out["match_id"].iloc[row]),
        )  # fmt: skip
    out["split"] = split
    group = frame["group_key"].astype("string").str.strip()
    row = _first_bad(group.isna() | (group == ""))
    if row is not None:
        raise InputError("group_key is empty", file=name, row=row + 1, field="group_key",
                         match_id=str(out["match_id"].iloc[row]))  # fmt: skip
    out["group_key"] = group
    out["source_path"] = frame["source_path"].astype("string")
    row = _first_bad(out["source_path"].isna())
    if row is not None:
        raise InputError("source_path is empty", file=name, row=row + 1, field="source_path",
                         match_id=str(out["match_id"].iloc[row]))  # fmt: skip
    checked, row = _sorted_unique(out, ["frame"])
    if row is not None:
        raise InputError(
            f"frame {out['frame'].iloc[row]} appears more than once",
            file=name, row=row + 1, field="frame", match_id=str(out["match_id"].iloc[row]),
        )  # fmt: skip
    return checked


def validate_labels(labels: pd.DataFrame) -> pd.DataFrame:
    """The boxes, checked: known role, finite coordinates, positive size, one box per track and frame."""
    name = "labels"
    _require_columns(labels, LABEL_COLUMNS, name)
    frame = labels.reset_index(drop=True)
    out = pd.DataFrame({"match_id": frame["match_id"].astype("string")})
    out["frame"] = _integers(frame, "frame", name, minimum=0)
    out["track_id"] = _integers(frame, "track_id", name, minimum=0)
    roles = frame["role"].astype("string").str.strip().str.lower()
    row = _first_bad(~roles.isin(ROLES).fillna(False))
    if row is not None:
        raise InputError(
            f"unknown role {frame['role'].iloc[row]!r}: expected one of {', '.join(ROLES)}",
            file=name, row=row + 1, field="role", match_id=str(out["match_id"].iloc[row]),
        )  # fmt: skip
    out["role"] = roles
    for column in ("x", "y", "w", "h"):
        values = pd.to_numeric(frame[column], errors="coerce").astype("float64")
        bad = ~np.isfinite(values.to_numpy())
        if column in ("w", "h"):
            bad |= values.to_numpy() <= 0
        row = _first_bad(pd.Series(bad))
        if row is not None:
            expected = "a positive number" if column in ("w", "h") else "a finite number"
            raise InputError(
                f"expected {expected}, got {frame[column].iloc[row]!r}",
                file=name, row=row + 1, field=column, match_id=str(out["match_id"].iloc[row]),
            )  # fmt: skip
        out[column] = values
    checked, row = _sorted_unique(out, ["frame", "track_id"])
    if row is not None:
        raise InputError(
            f"track {out['track_id'].iloc[row]} has two boxes in frame {out['frame'].iloc[row]}",
            file=name, row=row + 1, field="track_id", match_id=str(out["match_id"].iloc[row]),
        )  # fmt: skip
    return checked
