"""The review queue of a match: the frames and tracks most worth a human's time, ranked, each with its reason.

Two situations, two kinds of evidence (docs/review.md):

* **annotated matches**: where the labels and the production model's detections disagree most. A frame is
  worth a look when labelled people have no detection at IoU >= ``iou_threshold`` (missed by the model, or a
  wrong label) and when confident detections have no label (a missing label, or a false positive); a track when
  the model confirms a far smaller share of its frames than it confirms of the match's other tracks (a label on
  the wrong player, a ghost the cleaning kept).
* **matches nobody has annotated yet**: where the model is least sure of its own tracks. A track whose mean
  detection score is low (its boxes are likely wrong: ``n_frames x (1 - mean score)`` is its expected number of
  wrong boxes when scores are calibrated); two tracks where one ends and the other starts right after, next to it
  (one object split into two identities, or two objects swapped); a frame with confident detections that no
  track kept (the tracker dropped them: a missed object or a false positive).

Neighbouring frames look alike, so a frame item suppresses the lower-ranked items of its kind within
``min_gap_s``. Kinds measure different things, so the queue interleaves them: the best item of each kind, then
the second of each kind, and so on, so that its top shows every kind of doubt the match has.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cvops.cleaning.matching import assign_per_frame

REVIEW_COLUMNS = ("rank", "kind", "frame", "first_frame", "last_frame", "track_id", "score", "detail", "source")
PEOPLE = ("player", "goalkeeper", "referee")

DISAGREEMENT = "disagreement"
UNCONFIRMED_TRACK = "unconfirmed_track"
LOW_CONFIDENCE_TRACK = "low_confidence_track"
POSSIBLE_ID_SWITCH = "possible_id_switch"
DROPPED_DETECTIONS = "dropped_detections"
KINDS = (DISAGREEMENT, UNCONFIRMED_TRACK, LOW_CONFIDENCE_TRACK, POSSIBLE_ID_SWITCH, DROPPED_DETECTIONS)


@dataclass(frozen=True)
class ReviewQueueConfig:
    """How a match's review queue is ranked (docs/review.md)."""

    max_items: int = 50
    """Items kept per match, after ranking."""
    min_gap_s: float = 2.0
    """Frame items of one kind closer than this (seconds) are one item: the best of them."""
    iou_threshold: float = 0.5
    """A detection agrees with a box (a label, or a track's box) from this IoU up."""
    confident_score: float = 0.5
    """Detections scoring at least this are confident: one without a label, or without a track, is an item."""
    min_track_frames: int = 10
    """Tracks shorter than this are not judged as tracks (their frames still count)."""
    track_share_ratio: float = 0.5
    """A label track is unconfirmed when the model confirms less than this share of the match's typical
    (median) share of confirmed frames."""
    low_confidence: float = 0.5
    """A model track whose mean detection score is below this is a low-confidence track."""
    switch_max_gap_s: float = 1.0
    """A track starting at most this long after another ended may be the same object."""
    switch_max_distance: float = 1.0
    """... when it starts within this many box heights of where the other one ended."""
    min_dropped: int = 2
    """A frame needs this many confident detections outside every track (a new track's first detection is
    always outside: the tracker confirms a track on its second frame)."""

    def __post_init__(self) -> None:
        if self.max_items < 1 or self.min_track_frames < 1 or self.min_dropped < 1:
            raise ValueError("max_items, min_track_frames and min_dropped must be at least 1")


def labels_vs_model_queue(
    labels: pd.DataFrame,
    predictions: pd.DataFrame,
    agreement: pd.DataFrame,
    *,
    fps: float,
    source: str,
    config: ReviewQueueConfig | None = None,
) -> pd.DataFrame:
    """The queue of an annotated match: ``labels`` are its cleaned tracks and ``predictions`` the model's
    detections (both video frames), ``agreement`` its ``frame_agreement`` rows."""
    config = config or ReviewQueueConfig()
    people = labels[labels["role"].isin(PEOPLE)].reset_index(drop=True)
    if predictions.empty or people.empty:
        return _empty()
    assigned = assign_per_frame(
        people["frame"].to_numpy(dtype=np.int64),
        people[["x", "y", "w", "h"]].to_numpy(dtype=np.float64),
        predictions["frame"].to_numpy(dtype=np.int64),
        predictions[["x", "y", "w", "h"]].to_numpy(dtype=np.float64),
        min_iou=config.iou_threshold,
    )
    items = [
        _disagreement_frames(people, predictions, assigned.prediction, agreement, config),
        _unconfirmed_tracks(people, predictions, assigned.matched, config),
    ]
    return _rank(items, fps, source, config)


def model_only_queue(
    tracks: pd.DataFrame,
    predictions: pd.DataFrame,
    *,
    fps: float,
    source: str,
    config: ReviewQueueConfig | None = None,
) -> pd.DataFrame:
    """The queue of a match nobody has annotated: ``tracks`` are the model's tracks (``model_tracks``) and
    ``predictions`` the detections they were made from (video frames)."""
    config = config or ReviewQueueConfig()
    if tracks.empty:
        return _empty()
    items = [
        _low_confidence_tracks(tracks, config),
        _possible_id_switches(tracks, fps, config),
        _dropped_detections(tracks, predictions, config),
    ]
    return _rank(items, fps, source, config)


def _disagreement_frames(
    people: pd.DataFrame,
    predictions: pd.DataFrame,
    assigned_prediction: np.ndarray,
    agreement: pd.DataFrame,
    config: ReviewQueueConfig,
) -> pd.DataFrame:
    confident = predictions["conf"].to_numpy() >= config.confident_score
    used = np.zeros(len(predictions), dtype=bool)
    used[assigned_prediction[assigned_prediction >= 0]] = True
    unlabelled = (
        pd.Series(confident & ~used, index=predictions["frame"].to_numpy()).groupby(level=0).sum().rename("unlabelled")
    )
    frames = agreement.set_index("frame")[["n_labels", "n_matched", "mean_iou"]].join(unlabelled, how="outer")
    frames = frames.fillna({"n_labels": 0, "n_matched": 0, "unlabelled": 0})
    missed = (frames["n_labels"] - frames["n_matched"]).astype(int)
    unlabelled_count = frames["unlabelled"].astype(int)
    score = missed + unlabelled_count
    # Only frames within the labelled span: a sync offset moves the labels off the video's first or last frames,
    # where every detection would otherwise count as unlabelled and top the queue.
    labelled_span = (frames.index >= people["frame"].min()) & (frames.index <= people["frame"].max())
    keep = (score > 0) & labelled_span
    details = [
        f"{m} of {int(n)} labelled players have no detection at IoU >= {config.iou_threshold:g}; "
        f"{u} detections scoring >= {config.confident_score:g} have no label"
        for m, n, u in zip(missed[keep], frames["n_labels"][keep], unlabelled_count[keep], strict=True)
    ]
    frame_numbers = frames.index[keep].to_numpy(dtype=np.int64)
    return _items(DISAGREEMENT, frame_numbers, frame_numbers, frame_numbers, None, score[keep].to_numpy(), details)


def _unconfirmed_tracks(
    people: pd.DataFrame, predictions: pd.DataFrame, matched: np.ndarray, config: ReviewQueueConfig
) -> pd.DataFrame:
    covered = np.isin(people["frame"].to_numpy(), predictions["frame"].unique())
    rows = pd.DataFrame(
        {"track_id": people["track_id"], "frame": people["frame"], "role": people["role"], "confirmed": matched}
    )[covered]
    per_track = rows.groupby("track_id").agg(
        n=("frame", "size"),
        confirmed=("confirmed", "sum"),
        first=("frame", "min"),
        last=("frame", "max"),
        role=("role", "first"),
    )
    per_track = per_track[per_track["n"] >= config.min_track_frames]
    if per_track.empty:
        return _items(UNCONFIRMED_TRACK, [], [], [], [], [], [])
    share = per_track["confirmed"] / per_track["n"]
    typical = float(share.median())
    chosen = per_track[share < config.track_share_ratio * typical]
    chosen_share = share[chosen.index]
    # The frame to look at: the middle of the track's longest run of unconfirmed frames.
    look = [_middle_of_longest_run(rows, track_id) for track_id in chosen.index]
    details = [
        f"track {track_id} ({row.role}): the model confirms {s:.0%} of its {row.n} labelled frames "
        f"(median track {typical:.0%})"
        for (track_id, row), s in zip(chosen.iterrows(), chosen_share, strict=True)
    ]
    unconfirmed = (chosen["n"] - chosen["confirmed"]).to_numpy(dtype=float)
    return _items(
        UNCONFIRMED_TRACK,
        look,
        chosen["first"].to_numpy(),
        chosen["last"].to_numpy(),
        chosen.index.to_numpy(),
        unconfirmed,
        details,
    )


def _middle_of_longest_run(rows: pd.DataFrame, track_id: int) -> int:
    track = rows[rows["track_id"] == track_id].sort_values("frame")
    unconfirmed = ~track["confirmed"].to_numpy(dtype=bool)
    frames = track["frame"].to_numpy()
    padded = np.r_[False, unconfirmed, False].astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    starts, ends = edges[0::2], edges[1::2]
    longest = int(np.argmax(ends - starts))
    return int(frames[(starts[longest] + ends[longest] - 1) // 2])


def _low_confidence_tracks(tracks: pd.DataFrame, config: ReviewQueueConfig) -> pd.DataFrame:
    per_track = tracks.groupby("track_id").agg(
        n=("frame", "size"),
        mean_conf=("conf", "mean"),
        first=("frame", "min"),
        last=("frame", "max"),
        role=("role", "first"),
    )
    chosen = per_track[(per_track["n"] >= config.min_track_frames) & (per_track["mean_conf"] < config.low_confidence)]
    weakest = tracks.loc[tracks.groupby("track_id")["conf"].idxmin(), ["track_id", "frame"]].set_index("track_id")
    expected_wrong = chosen["n"] * (1 - chosen["mean_conf"])
    details = [
        f"track {track_id} ({row.role}): mean detection score {row.mean_conf:.2f} over {row.n} frames, about "
        f"{wrong:.0f} of its boxes may be wrong"
        for (track_id, row), wrong in zip(chosen.iterrows(), expected_wrong, strict=True)
    ]
    return _items(
        LOW_CONFIDENCE_TRACK,
        weakest.loc[chosen.index, "frame"].to_numpy(),
        chosen["first"].to_numpy(),
        chosen["last"].to_numpy(),
        chosen.index.to_numpy(),
        expected_wrong.to_numpy(),
        details,
    )


def _possible_id_switches(tracks: pd.DataFrame, fps: float, config: ReviewQueueConfig) -> pd.DataFrame:
    ordered = tracks.sort_values(["track_id", "frame"])
    ends = ordered.groupby("track_id").tail(1).set_index("track_id")
    starts = ordered.groupby("track_id").head(1).set_index("track_id")
    first_frame = int(tracks["frame"].min())
    max_gap = max(1, round(config.switch_max_gap_s * fps))
    found: list[tuple] = []
    end_frames = ends["frame"].to_numpy()
    end_centres = (ends[["x", "y"]].to_numpy() + ends[["w", "h"]].to_numpy() / 2).astype(float)
    for track_id, start in starts.iterrows():
        if start.frame == first_frame:
            continue
        gap = start.frame - end_frames
        candidates = np.flatnonzero((gap > 0) & (gap <= max_gap) & (ends.index.to_numpy() != track_id))
        if candidates.size == 0:
            continue
        centre = np.array([start.x + start.w / 2, start.y + start.h / 2])
        distance = np.hypot(*(end_centres[candidates] - centre).T) / max(float(start.h), 1.0)
        best = int(np.argmin(distance))
        if distance[best] > config.switch_max_distance:
            continue
        other = int(ends.index[candidates[best]])
        found.append(
            (
                int(start.frame),
                int(end_frames[candidates[best]]),
                int(track_id),
                1.0 - distance[best] / config.switch_max_distance,
                f"track {other} ends on frame {int(end_frames[candidates[best]])} and track {int(track_id)} starts "
                f"on frame {int(start.frame)}, {distance[best]:.2f} box heights away: one object under two ids, "
                "or two objects swapped",
            )
        )
    if not found:
        return _items(POSSIBLE_ID_SWITCH, [], [], [], [], [], [])
    frames, ended, track_ids, scores, details = map(list, zip(*found, strict=True))
    return _items(POSSIBLE_ID_SWITCH, frames, ended, frames, track_ids, scores, details)


def _dropped_detections(tracks: pd.DataFrame, predictions: pd.DataFrame, config: ReviewQueueConfig) -> pd.DataFrame:
    confident = predictions[predictions["conf"] >= config.confident_score].reset_index(drop=True)
    if confident.empty:
        return _items(DROPPED_DETECTIONS, [], [], [], [], [], [])
    assigned = assign_per_frame(
        confident["frame"].to_numpy(dtype=np.int64),
        confident[["x", "y", "w", "h"]].to_numpy(dtype=np.float64),
        tracks["frame"].to_numpy(dtype=np.int64),
        tracks[["x", "y", "w", "h"]].to_numpy(dtype=np.float64),
        min_iou=config.iou_threshold,
    )
    dropped = pd.Series(~assigned.matched, index=confident["frame"].to_numpy()).groupby(level=0).sum()
    dropped = dropped[dropped >= config.min_dropped]
    frames = dropped.index.to_numpy(dtype=np.int64)
    details = [
        f"{n} detections scoring >= {config.confident_score:g} are in no track (missed objects, or false positives)"
        for n in dropped
    ]
    return _items(DROPPED_DETECTIONS, frames, frames, frames, None, dropped.to_numpy(dtype=float), details)


def _items(kind, frames, first, last, track_ids, scores, details) -> pd.DataFrame:
    n = len(details)
    return pd.DataFrame(
        {
            "kind": [kind] * n,
            "frame": np.asarray(frames, dtype=np.int64).reshape(n),
            "first_frame": np.asarray(first, dtype=np.int64).reshape(n),
            "last_frame": np.asarray(last, dtype=np.int64).reshape(n),
            "track_id": pd.array([None] * n if track_ids is None else list(track_ids), dtype="Int64"),
            "score": np.asarray(scores, dtype=np.float64).reshape(n),
            "detail": details,
        }
    )


def _rank(items: list[pd.DataFrame], fps: float, source: str, config: ReviewQueueConfig) -> pd.DataFrame:
    """Within each kind the higher score first (ties: the earlier frame), frame items thinned in time; then
    the kinds interleaved, and the first ``max_items`` kept."""
    gap = max(1, round(config.min_gap_s * fps))
    ranked: list[pd.DataFrame] = []
    for kind_items in items:
        if kind_items.empty:
            continue
        ordered = kind_items.sort_values(["score", "frame"], ascending=[False, True], kind="stable")
        if ordered["track_id"].isna().all():
            ordered = ordered[_thin(ordered["frame"].to_numpy(), gap, config.max_items)]
        ranked.append(ordered.assign(within=np.arange(len(ordered))))
    if not ranked:
        return _empty()
    queue = pd.concat(ranked, ignore_index=True)
    queue["kind_order"] = queue["kind"].map({kind: i for i, kind in enumerate(KINDS)})
    queue = queue.sort_values(["within", "kind_order"], kind="stable").head(config.max_items)
    queue = queue.assign(rank=np.arange(1, len(queue) + 1, dtype=np.int64), source=source)
    return queue[list(REVIEW_COLUMNS)].reset_index(drop=True)


def _thin(frames: np.ndarray, gap: int, limit: int) -> np.ndarray:
    """Keep, in order, each frame not within ``gap`` of a frame already kept (greedy non-maximum suppression),
    until ``limit`` are kept."""
    kept = np.zeros(0, dtype=np.int64)
    keep = np.zeros(len(frames), dtype=bool)
    for index, frame in enumerate(frames):
        if len(kept) == limit:
            break
        if not (np.abs(kept - frame) < gap).any():
            kept = np.append(kept, frame)
            keep[index] = True
    return keep


def _empty() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rank": pd.Series(dtype="int64"),
            "kind": pd.Series(dtype="string"),
            "frame": pd.Series(dtype="int64"),
            "first_frame": pd.Series(dtype="int64"),
            "last_frame": pd.Series(dtype="int64"),
            "track_id": pd.Series(dtype="Int64"),
            "score": pd.Series(dtype="float64"),
            "detail": pd.Series(dtype="string"),
            "source": pd.Series(dtype="string"),
        }
    )
