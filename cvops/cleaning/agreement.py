"""Per-frame agreement between the cleaned labels and the predictions.

Sample selection drops frames where labels and predictions disagree badly: such a frame is more likely a label
mistake (a missed substitution, a box left behind) than a detector failure, and either way it teaches the
model nothing reliable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cvops.cleaning.inputs import BOX_COLUMNS
from cvops.cleaning.matching import assign_per_frame

AGREEMENT_COLUMNS = ("frame", "n_labels", "n_matched", "mean_iou")


@dataclass(frozen=True)
class AgreementConfig:
    """How a frame's agreement is measured.

    Attributes:
        iou_threshold: a labelled player counts as matched when its assigned prediction overlaps it at least
            this
            much (0.5, the usual detection criterion).
        roles: the labelled roles counted in ``n_labels`` (the players).
        assignment_roles: the labelled roles taking part in the one-to-one assignment. Referees are included
            so
            that a referee's detection is not credited to a player standing next to them.
    """

    iou_threshold: float = 0.5
    roles: tuple[str, ...] = ("player", "goalkeeper")
    assignment_roles: tuple[str, ...] = ("player", "goalkeeper", "referee")


def frame_agreement(
    tracks: pd.DataFrame, predictions: pd.DataFrame, config: AgreementConfig | None = None
) -> pd.DataFrame:
    """One row per video frame that has predictions: labelled players, how many are matched, their mean IoU.

    ``tracks`` and ``predictions`` are both in video frames. ``mean_iou`` is the mean IoU of the matched
    players (NaN when none is matched). Frames without any prediction get no row: the detector may simply not
    have been run there, which says nothing about the labels.
    """
    config = config or AgreementConfig()
    frames = np.unique(predictions["frame"].to_numpy(dtype=np.int64))
    candidates = tracks[tracks["role"].isin(config.assignment_roles) & tracks["frame"].isin(frames)]
    assigned = assign_per_frame(
        candidates["frame"].to_numpy(dtype=np.int64),
        candidates[list(BOX_COLUMNS)].to_numpy(dtype=np.float64),
        predictions["frame"].to_numpy(dtype=np.int64),
        predictions[list(BOX_COLUMNS)].to_numpy(dtype=np.float64),
        min_iou=config.iou_threshold,
    )
    counted = candidates["role"].isin(config.roles).to_numpy()
    per_row = pd.DataFrame(
        {
            "frame": candidates["frame"].to_numpy(dtype=np.int64)[counted],
            "matched": assigned.matched[counted],
            "iou": np.where(assigned.matched, assigned.iou, np.nan)[counted],
        }
    )
    grouped = per_row.groupby("frame").agg(
        n_labels=("matched", "size"), n_matched=("matched", "sum"), mean_iou=("iou", "mean")
    )
    result = grouped.reindex(frames)
    result["n_labels"] = result["n_labels"].fillna(0).astype("int64")
    result["n_matched"] = result["n_matched"].fillna(0).astype("int64")
    result["mean_iou"] = result["mean_iou"].astype("float64")
    return result.rename_axis("frame").reset_index()[list(AGREEMENT_COLUMNS)]


def summarize_agreement(agreement: pd.DataFrame) -> dict[str, float | int | None]:
    """The distribution of the matched share over frames with labelled players (for asset metadata)."""
    labelled = agreement[agreement["n_labels"] > 0]
    if labelled.empty:
        return {"frames": len(agreement), "frames_with_players": 0}
    share = labelled["n_matched"] / labelled["n_labels"]
    quantiles = share.quantile([0.05, 0.25, 0.5]).to_numpy()
    mean_iou = float(labelled["mean_iou"].mean())
    return {
        "frames": len(agreement),
        "frames_with_players": len(labelled),
        "matched_share_mean": round(float(share.mean()), 4),
        "matched_share_p05": round(float(quantiles[0]), 4),
        "matched_share_p25": round(float(quantiles[1]), 4),
        "matched_share_median": round(float(quantiles[2]), 4),
        "frames_below_half_matched": int((share < 0.5).sum()),
        "mean_iou": None if math.isnan(mean_iou) else round(mean_iou, 4),
    }
