"""Markdown reports: the preview a person reads before an export, and the record of what an export made.

The preview answers "is retraining worth it?": per group, how many matches and samples the previous version had
and the candidate has, and how many samples come and go. The export report is the version's identity card:
tag, git commit, DVC identifiers, counts, bytes new and reused, push state and the export config. Both are
returned as strings; the caller writes them under ``$CVOPS_HOME/reports/``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import yaml

from cvops.datasets.versions import DatasetVersion
from cvops.redaction import redact_url

MAX_LISTED = 20


def _human_bytes(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _listed(names: Sequence[str]) -> str:
    shown = ", ".join(f"`{name}`" for name in names[:MAX_LISTED])
    more = len(names) - MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def preview_markdown(previous: pd.DataFrame, candidate: pd.DataFrame, previous_tag: str | None) -> str:
    """Compare the candidate samples with the previous version, per group.

    Both frames have match_id, frame and group_key; a sample is the pair (match_id, frame).
    """
    keys = ["match_id", "frame"]
    both = previous[[*keys, "group_key"]].merge(
        candidate[[*keys, "group_key"]], on=keys, how="outer", suffixes=("_before", "_now"), indicator=True
    )
    rows = []
    groups = sorted(set(previous["group_key"]) | set(candidate["group_key"]))
    for group in groups:
        before = previous[previous["group_key"] == group]
        now = candidate[candidate["group_key"] == group]
        added = int(((both["_merge"] == "right_only") & (both["group_key_now"] == group)).sum())
        removed = int(((both["_merge"] == "left_only") & (both["group_key_before"] == group)).sum())
        rows.append(
            [f"`{group}`", before["match_id"].nunique(), now["match_id"].nunique(), len(before), len(now),
             f"+{added}", f"-{removed}"]
        )  # fmt: skip
    added_total = int((both["_merge"] == "right_only").sum())
    removed_total = int((both["_merge"] == "left_only").sum())
    rows.append(
        ["**total**", previous["match_id"].nunique(), candidate["match_id"].nunique(), len(previous),
         len(candidate), f"+{added_total}", f"-{removed_total}"]
    )  # fmt: skip
    new_matches = sorted(set(candidate["match_id"]) - set(previous["match_id"]))
    dropped_matches = sorted(set(previous["match_id"]) - set(candidate["match_id"]))
    against = f"the latest version `{previous_tag}`" if previous_tag else "nothing (no version exported yet)"
    lines = [
        "# Dataset export preview",
        "",
        f"Candidate compared with {against}: {len(candidate)} samples from "
        f"{candidate['match_id'].nunique()} matches in {candidate['group_key'].nunique()} groups, "
        f"{added_total} added and {removed_total} removed.",
        "",
        _table(["group", "matches before", "matches now", "samples before", "samples now", "added", "removed"], rows),
        "",
        f"- new matches ({len(new_matches)}): {_listed(new_matches) or 'none'}",
        f"- dropped matches ({len(dropped_matches)}): {_listed(dropped_matches) or 'none'}",
    ]
    if previous_tag and added_total == 0 and removed_total == 0:
        lines += ["", "Same samples as the latest version: an export would make no new version unless labels changed."]
    return "\n".join(lines) + "\n"


def export_markdown(
    *,
    version: DatasetVersion,
    remote_url: str,
    dvc_ids: Mapping[str, str],
    changed_matches: Sequence[str],
    n_matches: int,
    bytes_new: int,
    bytes_reused: int,
    previous_tag: str | None,
    push_error: str | None,
    lock_note: str,
    completed: Sequence[str],
    timings: Mapping[str, float],
) -> str:
    """The report of a new version."""
    pushed = f"yes, to `{redact_url(remote_url)}`" if version.pushed else f"**no**: {push_error or 'not pushed yet'}"
    reuse_base = f"`{previous_tag}`" if previous_tag else "the previous version (none: this is the first)"
    summary = [
        ["tag", f"`{version.tag}`"],
        ["git commit", f"`{version.git_commit}`"],
        ["created", version.created_at.isoformat()],
        ["samples", f"{version.n_samples} ({version.n_train} train, {version.n_val} val) from {n_matches} matches"],
        ["bytes new", f"{_human_bytes(bytes_new)} ({bytes_new} B) of images not in {reuse_base}"],
        ["bytes reused", f"{_human_bytes(bytes_reused)} ({bytes_reused} B)"],
        ["pushed", pushed],
        ["lock", lock_note],
        ["seconds", ", ".join(f"{step} {seconds:.1f}" for step, seconds in timings.items())],
    ]
    if completed:
        summary.append(["finished earlier exports", ", ".join(f"`{tag}`" for tag in completed)])
    id_rows = [[f"`{path}`", f"`{md5}`"] for path, md5 in dvc_ids.items()]
    unchanged = n_matches - len(changed_matches)
    lines = [
        f"# Dataset version {version.version}",
        "",
        _table(["", ""], summary),
        "",
        "## DVC identifiers",
        "",
        _table(["path", "md5"], id_rows),
        "",
        f"{len(changed_matches)} match part(s) new or changed: {_listed(list(changed_matches)) or 'none'}; "
        f"{unchanged} unchanged (reused as they were: their `matches/<match_id>.dvc` files are unchanged).",
        "",
        "## Export config",
        "",
        "```yaml",
        yaml.safe_dump(version.config, sort_keys=True).rstrip(),
        "```",
    ]
    return "\n".join(lines) + "\n"


def unchanged_markdown(
    version: DatasetVersion, lock_note: str, completed: Sequence[str], push_error: str | None
) -> str:
    pushed = "yes" if version.pushed else f"**no**: {push_error or 'not pushed yet'}"
    lines = [
        "# Dataset export: unchanged",
        "",
        f"The samples and labels are exactly those of `{version.tag}` (commit `{version.git_commit}`, "
        f"{version.n_samples} samples): no new version was made.",
        "",
        f"- pushed: {pushed}",
        f"- lock: {lock_note}",
    ]
    if completed:
        lines.append(f"- finished earlier exports: {', '.join(f'`{tag}`' for tag in completed)}")
    return "\n".join(lines) + "\n"
