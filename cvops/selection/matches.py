"""Which matches go into the dataset, and in which split: a selection that only grows.

Matches are grouped by categorical properties (by default pitch, home team and away team); each group gets at
most ``max_per_group`` matches, the first one to ``val`` and the others to ``train``, so that no group
dominates the dataset and every group is represented in validation.

The selection must be *monotone*: as matches arrive, the selected set only grows and no match changes split,
so the frames already downloaded, the dataset versions already pushed and the benchmark already measured stay
valid. Picking "the N oldest matches of each group" afresh on every run is not monotone: a match annotated
long ago but delivered late would push a selected match out. So the selection is a function of the *previous
selection* and the newcomers: every earlier assignment is kept and only free slots are filled, oldest first
among the newcomers. The policy (group properties, cap, revision) is recorded in every row; when it changes,
nothing earlier can be kept meaningfully and the selection is recomputed from scratch.

A selected match whose blocking label checks fail later keeps its split and its slot but is *held*: its frames
are not exported until its labels pass again (releasing its slot would move another match, and a val match
into train would leak validation data into training). A match missing from the store is held the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from cvops.errors import InputError

SPLIT_TRAIN = "train"
SPLIT_VAL = "val"
SPLIT_EXCLUDED = "excluded"

REASON_GROUP_FIRST = "group_first"  # val: first match of its group
REASON_GROUP_SLOT = "group_slot"  # train: within the group's cap
REASON_GROUP_FULL = "group_full"  # excluded for good: its group was full when it arrived
REASON_CHECKS_FAILED = "checks_failed"  # excluded for now: reconsidered once its checks pass
REASON_HELD_CHECKS_FAILED = "held_checks_failed"  # selected, but its checks fail now: no frames exported
REASON_HELD_MISSING = "held_missing"  # selected, but no longer among the matches given: no frames exported
HELD_REASONS = (REASON_HELD_CHECKS_FAILED, REASON_HELD_MISSING)

STATUS_ANNOTATED = "annotated"

SELECTION_COLUMNS = ("match_id", "group_key", "split", "reason", "detail", "annotated_at", "policy")


@dataclass(frozen=True)
class MatchSelectionConfig:
    """The selection policy.

    Attributes:
        group_by: ``matches.csv`` columns whose combination defines a group.
        max_per_group: at most this many matches per group are selected (one val, the rest train).
        revision: bump to force a full recompute without changing anything else (for example after fixing a
            match's properties, which an incremental run deliberately does not act on).
    """

    group_by: tuple[str, ...] = ("pitch", "home_team", "away_team")
    max_per_group: int = 3
    revision: int = 0

    def __post_init__(self) -> None:
        if self.max_per_group < 1:
            raise InputError(f"max_per_group must be at least 1, got {self.max_per_group}", field="max_per_group")
        if not self.group_by:
            raise InputError("group_by needs at least one column", field="group_by")

    @property
    def policy(self) -> str:
        """Canonical text of the policy, stored in every row so a later run can tell whether it changed."""
        return json.dumps(
            {"group_by": list(self.group_by), "max_per_group": self.max_per_group, "revision": self.revision},
            sort_keys=True,
        )


@dataclass(frozen=True)
class MatchSelection:
    """The new ``match_selection`` table, whether it was recomputed from scratch, and a summary for metadata."""

    table: pd.DataFrame
    recomputed: bool
    summary: dict[str, object] = field(default_factory=dict)

    def export_split(self, match_id: str) -> str | None:
        """The split whose frames should be exported for ``match_id``, or None (excluded, held or unknown)."""
        return export_split(self.table, match_id)


def export_split(selection: pd.DataFrame, match_id: str) -> str | None:
    """From a ``match_selection`` table: ``train``/``val`` if the match's frames should be exported, else None."""
    rows = selection[selection["match_id"] == match_id]
    if rows.empty:
        return None
    row = rows.iloc[0]
    if row["split"] in (SPLIT_TRAIN, SPLIT_VAL) and row["reason"] not in HELD_REASONS:
        return str(row["split"])
    return None


def blocking_failures(check_results: pd.DataFrame) -> dict[str, list[str]]:
    """From ``label_check_results`` rows: match id -> names of its failed blocking checks.

    Without a ``blocking`` column every failed check counts as blocking.
    """
    failed = check_results[~check_results["passed"].astype(bool)]
    if "blocking" in failed.columns:
        failed = failed[failed["blocking"].astype(bool)]
    return {
        str(match_id): sorted(set(group["check"].astype(str)))
        for match_id, group in failed.groupby("match_id", sort=True)
    }


def group_key(values: Mapping[str, object], group_by: Sequence[str]) -> str:
    """``pitch=...|home_team=...|away_team=...`` with each value trimmed and case-folded ("Rovers" == "rovers ")."""
    parts = []
    for name in group_by:
        value = values.get(name)
        text = "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
        parts.append(f"{name}={' '.join(text.split()).casefold()}")
    return "|".join(parts)


def _candidate_matches(matches: pd.DataFrame, group_by: Iterable[str]) -> tuple[pd.DataFrame, list[str]]:
    """The matches that may be selected, and the ids of those left out because they are not annotated yet.

    With a ``status`` column (as in ``matches.csv``) only ``annotated`` matches are candidates: a match still
    being corrected must not take a slot with labels that will change.
    """
    required = ["match_id", "annotated_at", *group_by]
    missing = [c for c in required if c not in matches.columns]
    if missing:
        raise InputError(f"matches lack column(s) {', '.join(missing)}", field=missing[0])
    ids = matches["match_id"].astype(str)
    duplicated = ids[ids.duplicated()]
    if len(duplicated):
        raise InputError(f"duplicate match id(s) {sorted(set(duplicated))}", field="match_id")
    frame = matches.copy()
    frame["match_id"] = ids
    frame["annotated_at"] = pd.to_datetime(frame["annotated_at"], utc=True, errors="coerce")
    if "status" not in frame.columns:
        return frame, []
    annotated = frame["status"].astype(str).str.strip() == STATUS_ANNOTATED
    return frame[annotated], sorted(frame.loc[~annotated, "match_id"])


def _previous_rows(previous: pd.DataFrame | None, policy: str) -> tuple[dict[str, dict[str, object]], bool, str]:
    """Previous rows by match id, or nothing if the policy changed (second value: recomputed, third: why)."""
    if previous is None or previous.empty:
        return {}, False, ""
    missing = [c for c in SELECTION_COLUMNS if c not in previous.columns]
    if missing:
        raise InputError(f"previous match selection lacks column(s) {', '.join(missing)}", field=missing[0])
    policies = set(previous["policy"].astype(str))
    if policies != {policy}:
        return (
            {},
            True,
            f"policy changed from {sorted(policies)} to {policy}: selection recomputed from scratch",
        )
    return {str(r["match_id"]): r for r in previous.to_dict("records")}, False, ""


def select_matches(
    matches: pd.DataFrame,
    previous: pd.DataFrame | None = None,
    *,
    failed_checks: Mapping[str, Sequence[str]] | None = None,
    config: MatchSelectionConfig | None = None,
) -> MatchSelection:
    """Extend the previous ``match_selection`` table with the matches it does not cover yet.

    ``matches`` holds the matches (``matches.csv`` rows) with ``match_id``, ``annotated_at`` and the ``group_by``
    columns; with a ``status`` column only ``annotated`` ones are candidates. ``previous`` is the last
    ``match_selection`` table (None on the first run). ``failed_checks`` maps a match id to its failed blocking
    checks (see :func:`blocking_failures`).
    """
    config = config or MatchSelectionConfig()
    failed_checks = failed_checks or {}
    policy = config.policy
    current, not_annotated = _candidate_matches(matches, config.group_by)
    kept, recomputed, recompute_reason = _previous_rows(previous, policy)
    messages = [recompute_reason] if recompute_reason else []
    if not_annotated:
        messages.append(f"matches not annotated yet are not candidates: {not_annotated}")
    undated = current.loc[current["annotated_at"].isna(), "match_id"].tolist()
    if undated:
        messages.append(f"matches without a valid annotated_at are considered last: {sorted(undated)}")

    by_id = {r["match_id"]: r for r in current.to_dict("records")}
    rows: dict[str, dict[str, object]] = {}
    selected_per_group: dict[str, int] = {}
    for match_id, old in kept.items():
        if old["split"] == SPLIT_EXCLUDED and old["reason"] == REASON_CHECKS_FAILED:
            continue  # not an assignment: reconsidered below like a newcomer
        row = dict(old)
        if row["split"] in (SPLIT_TRAIN, SPLIT_VAL):
            selected_per_group[row["group_key"]] = selected_per_group.get(row["group_key"], 0) + 1
            row["reason"], row["detail"] = _selected_status(row, by_id, failed_checks)
        if match_id in by_id:
            now = group_key(by_id[match_id], config.group_by)
            if now != row["group_key"]:
                messages.append(
                    f"{match_id}: group properties changed ({row['group_key']} -> {now}); its earlier "
                    "group is kept (bump the policy revision to recompute)"
                )
        rows[match_id] = row

    newcomers = current[~current["match_id"].isin(list(rows))]
    newcomers = newcomers.sort_values(["annotated_at", "match_id"], na_position="last", kind="stable")
    newly_selected: list[str] = []
    for record in newcomers.to_dict("records"):
        match_id = record["match_id"]
        key = group_key(record, config.group_by)
        row = {
            "match_id": match_id,
            "group_key": key,
            "annotated_at": record["annotated_at"],
            "policy": policy,
        }
        if failed_checks.get(match_id):
            row |= {
                "split": SPLIT_EXCLUDED,
                "reason": REASON_CHECKS_FAILED,
                "detail": _names(failed_checks[match_id]),
            }
        else:
            taken = selected_per_group.get(key, 0)
            if taken >= config.max_per_group:
                detail = f"group already has {taken} of {config.max_per_group} matches"
                row |= {"split": SPLIT_EXCLUDED, "reason": REASON_GROUP_FULL, "detail": detail}
            else:
                split = SPLIT_VAL if taken == 0 else SPLIT_TRAIN
                reason = REASON_GROUP_FIRST if taken == 0 else REASON_GROUP_SLOT
                row |= {
                    "split": split,
                    "reason": reason,
                    "detail": f"slot {taken + 1} of {config.max_per_group}",
                }
                selected_per_group[key] = taken + 1
                newly_selected.append(match_id)
        rows[match_id] = row

    table = _table(rows.values())
    summary = _summary(table, policy, recomputed, newly_selected, messages)
    return MatchSelection(table=table, recomputed=recomputed, summary=summary)


def _selected_status(
    row: Mapping[str, object], current: Mapping[str, object], failed_checks: Mapping[str, Sequence[str]]
) -> tuple[str, str]:
    """Reason and detail of a previously selected match now: held, released, or unchanged."""
    match_id = str(row["match_id"])
    if match_id not in current:
        return REASON_HELD_MISSING, "not among the annotated matches any more; its slot and split are kept"
    if failed_checks.get(match_id):
        return REASON_HELD_CHECKS_FAILED, _names(failed_checks[match_id])
    if row["reason"] in HELD_REASONS:
        reason = REASON_GROUP_FIRST if row["split"] == SPLIT_VAL else REASON_GROUP_SLOT
        return reason, "released: available and passing its checks again"
    return str(row["reason"]), str(row["detail"])


def _names(checks: Sequence[str]) -> str:
    return "failed: " + ", ".join(sorted(map(str, checks)))


def _table(rows: Iterable[Mapping[str, object]]) -> pd.DataFrame:
    table = pd.DataFrame(list(rows), columns=list(SELECTION_COLUMNS))
    for name in ("match_id", "group_key", "split", "reason", "detail", "policy"):
        table[name] = table[name].astype("string")
    table["annotated_at"] = pd.to_datetime(table["annotated_at"], utc=True)
    return table.sort_values("match_id", kind="stable").reset_index(drop=True)


def _summary(
    table: pd.DataFrame, policy: str, recomputed: bool, newly_selected: list[str], messages: list[str]
) -> dict[str, object]:
    selected = table[table["split"].isin([SPLIT_TRAIN, SPLIT_VAL])]
    return {
        "policy": policy,
        "recomputed": recomputed,
        "matches": len(table),
        "train": int((table["split"] == SPLIT_TRAIN).sum()),
        "val": int((table["split"] == SPLIT_VAL).sum()),
        "excluded": int((table["split"] == SPLIT_EXCLUDED).sum()),
        "groups": int(selected["group_key"].nunique()),
        "newly_selected": sorted(newly_selected),
        "held": sorted(table.loc[table["reason"].isin(HELD_REASONS), "match_id"].tolist()),
        "excluded_by_reason": {
            str(k): int(v) for k, v in table[table["split"] == SPLIT_EXCLUDED]["reason"].value_counts().items()
        },
        "messages": messages,
    }
