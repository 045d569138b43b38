"""Generated manifest tables of one match, with knobs for the ways a match can drift.

A match is ``n_frames`` video frames; each frame shows about ``players`` players (a few fewer now and then) whose
box heights are log-normal around ``box_height`` px (a broadcast view: near players are taller), widths about
0.4 of the height. Predictions miss each player with probability ``miss_rate``; frames every ``frame_step``
are candidates, a share ``drop_share`` of them is dropped. Labels arrive ``delay_days`` after kickoff (drawn from
0.5-30 days when None, as the synthetic league does).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cvops.drift import MatchStatistics, match_statistics

KICKOFF = pd.Timestamp("2026-01-10T15:00:00Z")


@dataclass(frozen=True)
class MatchShape:
    n_frames: int = 2000
    players: int = 22
    box_height: float = 40.0
    miss_rate: float = 0.08
    frame_step: int = 25
    drop_share: float = 0.1
    delay_days: float | None = None
    source: str = "det.txt"


NORMAL = MatchShape()


@dataclass(frozen=True)
class MatchTables:
    cleaned_tracks: pd.DataFrame
    selected_frames: pd.DataFrame
    frame_exclusions: pd.DataFrame
    frame_agreement: pd.DataFrame
    predictions: pd.DataFrame
    matches: pd.DataFrame


def match_tables(match_id: str, seed: int, shape: MatchShape = NORMAL) -> MatchTables:
    rng = np.random.default_rng(seed)
    frames = np.arange(1, shape.n_frames + 1)
    counts = np.maximum(shape.players - rng.binomial(2, 0.1, shape.n_frames), 0)
    frame_of_box = np.repeat(frames, counts)
    heights = shape.box_height * rng.lognormal(0.0, 0.35, len(frame_of_box))
    widths = heights * 0.4 * rng.normal(1.0, 0.05, len(frame_of_box))
    track_ids = np.concatenate([np.arange(1, c + 1) for c in counts])
    roles = np.where(track_ids == 1, "goalkeeper", "player")
    referees = pd.DataFrame({"frame": frames, "track_id": 99, "role": "referee", "w": 16.0, "h": 40.0})
    tracks = pd.DataFrame({"frame": frame_of_box, "track_id": track_ids, "role": roles, "w": widths, "h": heights})
    tracks = pd.concat([tracks, referees], ignore_index=True).assign(x=10.0, y=10.0)

    matched = rng.binomial(counts, 1 - shape.miss_rate)
    agreement = pd.DataFrame(
        {
            "frame": frames,
            "n_labels": counts,
            "n_matched": matched,
            "mean_iou": np.where(matched > 0, rng.beta(30, 12, shape.n_frames), np.nan),
        }
    )
    candidates = frames[:: shape.frame_step]
    dropped = rng.random(len(candidates)) < shape.drop_share
    delay = shape.delay_days if shape.delay_days is not None else rng.uniform(0.5, 30.0)
    matches = pd.DataFrame(
        {
            "n_frames": [shape.n_frames],
            "kickoff": [KICKOFF],
            "annotated_at": [KICKOFF + pd.Timedelta(days=delay).round("s")],
        }
    )
    return MatchTables(
        cleaned_tracks=tracks,
        selected_frames=pd.DataFrame({"frame": candidates[~dropped], "split": "train"}),
        frame_exclusions=pd.DataFrame({"frame": candidates[dropped], "reason": "low_agreement"}),
        frame_agreement=agreement,
        predictions=pd.DataFrame({"frame": frames[:1], "source": [shape.source]}),
        matches=matches,
    )


def statistics(match_id: str, seed: int, shape: MatchShape = NORMAL, max_samples: int = 2000) -> MatchStatistics:
    tables = match_tables(match_id, seed, shape)
    record = tables.matches.iloc[0]
    return match_statistics(
        match_id,
        cleaned_tracks=tables.cleaned_tracks,
        selected_frames=tables.selected_frames,
        frame_exclusions=tables.frame_exclusions,
        frame_agreement=tables.frame_agreement,
        prediction_source=shape.source,
        n_frames=shape.n_frames,
        kickoff=record["kickoff"],
        annotated_at=record["annotated_at"],
        max_samples=max_samples,
    )


def reference(n: int = 8, shape: MatchShape = NORMAL, first_seed: int = 1000) -> list[MatchStatistics]:
    return [statistics(f"ref{i:02d}", first_seed + i, shape) for i in range(n)]
