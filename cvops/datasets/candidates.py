"""What the next dataset version would hold, from the platform's manifests.

A match contributes when the selection exports it (train or val, not held) and all of its selected frames have
been extracted. A match that is not ready yet (frames still missing, no frames selected) is listed with the reason
instead of holding up the others: the version is made of the matches that are ready.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from cvops.selection import export_split

LABEL_COLUMNS = ["match_id", "frame", "track_id", "role", "x", "y", "w", "h"]


@dataclass(frozen=True)
class DatasetCandidates:
    samples: pd.DataFrame
    """match_id, frame, split, group_key, source_path: one row per sample."""
    labels: pd.DataFrame
    """match_id, frame, track_id, role, x, y, w, h: the cleaned boxes of the sample frames."""
    not_ready: pd.DataFrame
    """match_id, reason: exported matches left out of this version, and why."""


def dataset_candidates(
    selection: pd.DataFrame,
    selected_frames: pd.DataFrame,
    frame_samples: pd.DataFrame,
    cleaned_tracks: pd.DataFrame,
) -> DatasetCandidates:
    """The samples and labels of every exported match whose selected frames are all extracted."""
    exported = {
        match_id: split
        for match_id in selection["match_id"].astype(str)
        if (split := export_split(selection, match_id)) is not None
    }
    groups = dict(zip(selection["match_id"].astype(str), selection["group_key"].astype(str), strict=True))
    frames = selected_frames[selected_frames["match_id"].astype(str).isin(exported)]
    merged = frames[["match_id", "frame"]].merge(
        frame_samples[["match_id", "frame", "path"]], on=["match_id", "frame"], how="left"
    )
    missing = merged[merged["path"].isna()].groupby("match_id").size()
    not_ready = [(m, f"{n} selected frames not extracted yet") for m, n in missing.items()]
    with_frames = set(frames["match_id"].astype(str))
    not_ready += [(m, "no frame selected") for m in sorted(set(exported) - with_frames)]

    ready = merged[~merged["match_id"].isin(missing.index)]
    samples = pd.DataFrame(
        {
            "match_id": ready["match_id"].astype(str),
            "frame": ready["frame"].astype("int64"),
            "split": ready["match_id"].map(exported),
            "group_key": ready["match_id"].map(groups),
            "source_path": ready["path"].astype(str),
        }
    ).sort_values(["match_id", "frame"], kind="stable", ignore_index=True)
    keys = samples[["match_id", "frame"]]
    labels = cleaned_tracks[LABEL_COLUMNS].merge(keys, on=["match_id", "frame"], how="inner")
    return DatasetCandidates(
        samples=samples,
        labels=labels.sort_values(["match_id", "frame", "track_id"], kind="stable", ignore_index=True),
        not_ready=pd.DataFrame(not_ready, columns=["match_id", "reason"]).sort_values("match_id", ignore_index=True),
    )
