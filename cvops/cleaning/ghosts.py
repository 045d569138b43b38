"""Finding "ghost" chunks: interpolated spans that show no player.

Annotators place boxes only where a player's motion changes and the product interpolates in between. A player
who leaves the pitch is not annotated until they come back, so the span between the exit keyframe and the
re-entry keyframe is interpolated too: a box gliding from the exit point to the entry point along the line,
while the player himself stands off the pitch beside it, unlabelled, or out of the picture. Training on it teaches
the model to see players where there are none.

The unit of decision is a *span*: the interpolated rows strictly between two consecutive keyframes of a track
(the keyframes themselves were placed by a person looking at the player and are kept). Two rules, documented
with their parameters in ``docs/cleaning.md``:

* with predictions: a span is a ghost when predictions rarely confirm its boxes, compared with how often they
  confirm the keyframes of the same track (the detector's recall on this player; the match's when the track has
  too few keyframes). A prediction confirms a box when it overlaps it about as well as predictions overlap the
  boxes a person placed on this player (half their typical IoU): the player standing off the pitch next to his
  ghost box is detected, but the box glides past him, overlapping his detection far less than his keyframes do.
  A player the detector hardly ever sees (a goalkeeper a young model has not learned, a far linesman) is not
  judged by it: his unconfirmed spans say nothing about whether he was there.
  Frames where the box is mostly covered by another label are left out of that count: an occluded player is
  missed by any detector and is not a ghost.
* without usable predictions: only the geometry is left, so a span is a ghost when it is long, slow, and both
  its ends lie at the border of the image. This is weaker evidence (a player standing still at the touchline
  looks the same) and is therefore stricter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cvops.cleaning.inputs import BOX_COLUMNS, VideoInfo
from cvops.cleaning.matching import assign_per_frame, max_cover_by_others

RULE_PREDICTIONS = "unconfirmed_by_predictions"
RULE_GEOMETRY = "slow_border_to_border"


@dataclass(frozen=True)
class GhostConfig:
    """Parameters of the ghost rules.

    Attributes:
        roles: label roles whose spans are examined (people; the ball is interpolated by design).
        min_iou: a prediction is assigned to a label box (one to one per frame) from this IoU up, and never
            confirms it below. Low on purpose: a person's box around a distant player is a few pixels off the
            detector's.
        confirm_iou_ratio: an assigned prediction confirms a row when its IoU is at least this share of the
            row's reference IoU: the median IoU of its track's unoccluded keyframes (the match's median while
            the track has fewer than ``min_track_keyframes``), for a span's rows at most the better of the
            span's own two keyframes. So confirmation adapts to box size, annotator and detector, and a ghost
            box beside the player it stands for is not confirmed by his detection.
        occlusion_cover: a label box covered by another label over at least this share of its area is
            occluded, and its frame is not counted for or against the span.
        min_duration_s: spans shorter than this are never ghosts: a detector misses a player for a second now
            and then, and a player who steps off the pitch is off for longer.
        min_coverage: the prediction rule needs predictions on at least this share of the span's frames.
        support_ratio: a span is a ghost when the share of its (unoccluded, covered) frames confirmed by a
            prediction is below ``support_ratio`` times its track's keyframe confirmation rate.
        min_baseline: if predictions confirm less than this share of the match's keyframes, they are not
            trusted (wrong model, wrong video) and the geometric rule is used instead; a track whose own
            keyframes are confirmed less often than this is judged by the geometric rule too.
        min_track_keyframes: a track's own confirmation rate is used once this many of its keyframes are
            unoccluded and covered by predictions; below that, the match's rate stands in.
        trim_confirmed_ends: keep the interpolated rows right after the exit keyframe and right before the
            re-entry keyframe for as long as predictions still match them well (the player is still there).
        trim_iou_ratio: "well" for ``trim_confirmed_ends``: an IoU of at least this share of the row's reference
            IoU, as good as at a keyframe; right after the exit, a ghost box still overlaps the player who has
            just crossed the line enough to be confirmed.
        border_margin: a keyframe box is "at the border" when an edge is within this share of the image's
            shorter side of the image edge (0.015: 5 px at 360p, 16 px at 1080p). Boxes cut by the border are
            small, so the margin is not relative to the box.
        geometry_min_duration_s: the geometric rule only considers spans at least this long (a player who
            steps off the pitch is away for a couple of seconds at least).
        geometry_max_speed: ... and only spans whose box centre moves slower than this many image heights per
            second (0.25 is a jog in a typical broadcast view; a ghost crawls from its exit to its re-entry).
    """

    roles: tuple[str, ...] = ("player", "goalkeeper", "referee")
    min_iou: float = 0.1
    occlusion_cover: float = 0.5
    min_duration_s: float = 1.0
    min_coverage: float = 0.8
    support_ratio: float = 0.5
    min_baseline: float = 0.4
    min_track_keyframes: int = 4
    confirm_iou_ratio: float = 0.5
    trim_confirmed_ends: bool = True
    trim_iou_ratio: float = 0.8
    border_margin: float = 0.015
    geometry_min_duration_s: float = 2.0
    geometry_max_speed: float = 0.25


@dataclass(frozen=True)
class GhostReport:
    """Every examined span with its evidence and verdict, and the label rows to remove.

    ``removed`` holds positions in the labels table given to :func:`find_ghosts` (label frame numbering).
    ``baseline`` is the share of keyframes confirmed by predictions (NaN without usable predictions).
    """

    spans: pd.DataFrame
    removed: np.ndarray
    baseline: float
    used_predictions: bool
    messages: list[str] = field(default_factory=list)


SPAN_DTYPES = {
    "track_id": "int64",
    "role": "string",
    "start_frame": "int64",
    "end_frame": "int64",
    "n_rows": "int64",
    "duration_s": "float64",
    "speed": "float64",
    "start_at_border": "bool",
    "end_at_border": "bool",
    "coverage": "float64",
    "support": "float64",
    "track_baseline": "float64",
    "is_ghost": "bool",
    "rule": "string",
    "n_removed": "int64",
}


def interpolated_spans(labels: pd.DataFrame) -> pd.DataFrame:
    """The runs of non-keyframe rows between consecutive keyframes of each track.

    ``labels`` must be sorted by track and frame with a fresh index. Returns one row per span with
    ``first_row`` and ``last_row`` (positions of its interior rows, inclusive) and the frames of the bounding
    keyframes. The first and last rows of a track always bound spans, whatever their ``is_keyframe`` says.
    """
    tracks = labels["track_id"].to_numpy()
    if len(tracks) == 0:
        return pd.DataFrame(
            {name: pd.Series(dtype="int64") for name in ("first_row", "last_row", "track_id")}
            | {"role": pd.Series(dtype="string")}
            | {name: pd.Series(dtype="int64") for name in ("start_frame", "end_frame")}
        )
    track_changes = tracks[1:] != tracks[:-1]
    bound = labels["is_keyframe"].to_numpy(dtype=bool) | np.r_[True, track_changes] | np.r_[track_changes, True]
    interior = ~bound
    # Interior rows of a span are contiguous: a span starts at an interior row after a bound and ends before
    # one.
    starts = np.flatnonzero(interior & np.r_[True, bound[:-1]])
    ends = np.flatnonzero(interior & np.r_[bound[1:], True])
    frames = labels["frame"].to_numpy()
    return pd.DataFrame(
        {
            "first_row": starts.astype(np.int64),
            "last_row": ends.astype(np.int64),
            "track_id": tracks[starts].astype(np.int64),
            "role": pd.array(labels["role"].to_numpy()[starts - 1], dtype="string"),
            "start_frame": frames[starts - 1].astype(np.int64),
            "end_frame": frames[ends + 1].astype(np.int64),
        }
    )


def _at_border(boxes: np.ndarray, video: VideoInfo, margin: float) -> np.ndarray:
    pad = margin * min(video.width, video.height)
    return (
        (boxes[:, 0] <= pad)
        | (boxes[:, 1] <= pad)
        | (boxes[:, 0] + boxes[:, 2] >= video.width - pad)
        | (boxes[:, 1] + boxes[:, 3] >= video.height - pad)
    )


def _run_length_from_start(flags: np.ndarray) -> int:
    """Number of leading True values."""
    misses = np.flatnonzero(~flags)
    return int(misses[0]) if misses.size else len(flags)


def find_ghosts(
    labels: pd.DataFrame,
    predictions: pd.DataFrame,
    offset: int,
    video: VideoInfo,
    config: GhostConfig | None = None,
) -> GhostReport:
    """Judge every interpolated span of the people's tracks; see the module docstring for the rules.

    ``labels`` are in label frames, sorted by track and frame with a fresh index; ``predictions`` are in video
    frames; label frame ``f`` is compared with video frame ``f + offset``.
    """
    config = config or GhostConfig()
    spans = interpolated_spans(labels)
    spans = spans[spans["role"].isin(config.roles)].reset_index(drop=True)
    messages: list[str] = []
    if spans.empty:
        return GhostReport(_empty_spans(), np.zeros(0, np.int64), float("nan"), False, messages)

    people = labels["role"].isin(config.roles).to_numpy()
    frames = labels["frame"].to_numpy(dtype=np.int64)
    boxes = labels[list(BOX_COLUMNS)].to_numpy(dtype=np.float64)
    video_frames = frames + offset
    predicted_frames = np.unique(predictions["frame"].to_numpy(dtype=np.int64))
    covered = np.isin(video_frames, predicted_frames) & people
    iou = np.zeros(len(labels), dtype=np.float64)
    assigned_any = np.zeros(len(labels), dtype=bool)
    occluded = np.zeros(len(labels), dtype=bool)
    if covered.any():
        idx = np.flatnonzero(people)
        assigned = assign_per_frame(
            video_frames[idx],
            boxes[idx],
            predictions["frame"].to_numpy(dtype=np.int64),
            predictions[list(BOX_COLUMNS)].to_numpy(dtype=np.float64),
            min_iou=config.min_iou,
        )
        assigned_any[idx] = assigned.matched
        iou[idx] = assigned.iou
        occluded[idx] = max_cover_by_others(frames[idx], boxes[idx]) >= config.occlusion_cover

    keyframes = labels["is_keyframe"].to_numpy(dtype=bool) & covered & ~occluded
    first = spans["first_row"].to_numpy()
    last = spans["last_row"].to_numpy()
    reference = _reference_iou(labels["track_id"].to_numpy(), iou, keyframes & assigned_any, first, last, config)
    matched = assigned_any & (iou >= np.maximum(config.min_iou, config.confirm_iou_ratio * reference))
    baseline = float(matched[keyframes].mean()) if keyframes.any() else float("nan")
    trusted = bool(keyframes.any()) and baseline >= config.min_baseline
    if covered.any() and not trusted:
        shown = "no unoccluded keyframe with predictions" if np.isnan(baseline) else f"{baseline:.2f}"
        messages.append(
            f"predictions confirm too few keyframes ({shown} < min_baseline={config.min_baseline}); "
            "ghosts were judged from the geometry alone"
        )

    n_rows = last - first + 1

    counted = covered & ~(occluded & ~matched)
    n_covered = _segment_sums(covered, first, last)
    n_counted = _segment_sums(counted, first, last)
    n_matched = _segment_sums(matched & covered, first, last)
    coverage = n_covered / n_rows
    support = np.divide(n_matched, n_counted, out=np.full(len(spans), np.nan), where=n_counted > 0)

    start_boxes = boxes[first - 1]
    end_boxes = boxes[last + 1]
    gap = (spans["end_frame"] - spans["start_frame"]).to_numpy()
    duration = gap / video.fps
    centre_shift = np.hypot(
        (end_boxes[:, 0] + end_boxes[:, 2] / 2) - (start_boxes[:, 0] + start_boxes[:, 2] / 2),
        (end_boxes[:, 1] + end_boxes[:, 3] / 2) - (start_boxes[:, 1] + start_boxes[:, 3] / 2),
    )
    speed = centre_shift / video.height / duration
    start_border = _at_border(start_boxes, video, config.border_margin)
    end_border = _at_border(end_boxes, video, config.border_margin)

    track_baseline = _track_baselines(labels["track_id"].to_numpy(), keyframes, matched, spans, config, baseline)
    long_enough = duration >= config.min_duration_s
    by_predictions = (
        trusted & (coverage >= config.min_coverage) & ~np.isnan(support) & (track_baseline >= config.min_baseline)
    )
    ghost_pred = by_predictions & long_enough & (support < config.support_ratio * track_baseline)
    ghost_geom = (
        ~by_predictions
        & (duration >= config.geometry_min_duration_s)
        & (speed <= config.geometry_max_speed)
        & start_border
        & end_border
    )
    is_ghost = ghost_pred | ghost_geom
    rule = np.where(ghost_pred, RULE_PREDICTIONS, np.where(ghost_geom, RULE_GEOMETRY, ""))

    removed_parts: list[np.ndarray] = []
    n_removed = np.zeros(len(spans), dtype=np.int64)
    confirmed = matched & covered & (iou >= config.trim_iou_ratio * reference)
    for i in np.flatnonzero(is_ghost):
        lo, hi = int(first[i]), int(last[i]) + 1
        if config.trim_confirmed_ends and ghost_pred[i]:
            lo += _run_length_from_start(confirmed[lo:hi])
            hi -= _run_length_from_start(confirmed[lo:hi][::-1]) if hi > lo else 0
        if hi > lo:
            removed_parts.append(np.arange(lo, hi, dtype=np.int64))
            n_removed[i] = hi - lo

    result = (
        spans.drop(columns=["first_row", "last_row"])
        .assign(
            n_rows=n_rows.astype(np.int64),
            duration_s=duration,
            speed=speed,
            start_at_border=start_border,
            end_at_border=end_border,
            coverage=coverage,
            support=support,
            track_baseline=track_baseline,
            is_ghost=is_ghost,
            rule=rule,
            n_removed=n_removed,
        )[list(SPAN_DTYPES)]
        .astype(SPAN_DTYPES)
    )
    removed = np.concatenate(removed_parts) if removed_parts else np.zeros(0, np.int64)
    return GhostReport(result, removed, baseline, trusted, messages)


def _reference_iou(
    tracks: np.ndarray, iou: np.ndarray, placed: np.ndarray, first: np.ndarray, last: np.ndarray, config: GhostConfig
) -> np.ndarray:
    """Per row: how well predictions overlap the boxes a person placed on this player, its own IoU's yardstick.

    That is the median IoU of the track's ``placed`` rows (its unoccluded keyframes that have a prediction; the
    match's median when the track has fewer than ``min_track_keyframes``). For the interior of a span (rows
    ``first[i]..last[i]``) it is at most the better of the span's own two keyframes: where even those overlap the
    detector poorly (a tiny box drawn a few pixels off), the interpolation between them cannot do better.
    Relative, because how well a correct label overlaps a prediction depends on the box size, the annotator and
    the detector, while a ghost box beside the player it stands for overlaps his detection much less than his own
    keyframes do.
    """
    per_track = pd.DataFrame({"track_id": tracks[placed], "iou": iou[placed]}).groupby("track_id")["iou"]
    medians = per_track.median().reindex(tracks).to_numpy()
    counts = per_track.size().reindex(tracks, fill_value=0).to_numpy()
    match_median = float(np.median(iou[placed])) if placed.any() else 0.0
    typical = np.where(counts >= config.min_track_keyframes, medians, match_median)
    lengths = last - first + 1
    interior = np.repeat(first - np.r_[0, np.cumsum(lengths)[:-1]], lengths) + np.arange(lengths.sum())
    span_reference = np.minimum(typical[first - 1], np.maximum(iou[first - 1], iou[last + 1]))
    typical[interior] = np.repeat(span_reference, lengths)
    return typical


def _track_baselines(
    tracks: np.ndarray,
    counted_keyframes: np.ndarray,
    matched: np.ndarray,
    spans: pd.DataFrame,
    config: GhostConfig,
    match_baseline: float,
) -> np.ndarray:
    """Per span: the share of its track's counted keyframes that predictions confirm, or ``match_baseline`` when
    the track has fewer than ``config.min_track_keyframes`` of them."""
    per_track = (
        pd.DataFrame({"track_id": tracks[counted_keyframes], "matched": matched[counted_keyframes]})
        .groupby("track_id")["matched"]
        .agg(["sum", "count"])
    )
    span_tracks = spans["track_id"].to_numpy()
    n = per_track["count"].reindex(span_tracks, fill_value=0).to_numpy()
    confirmed = per_track["sum"].reindex(span_tracks, fill_value=0).to_numpy()
    own = np.divide(confirmed, n, out=np.zeros(len(spans)), where=n > 0)
    return np.where(n >= config.min_track_keyframes, own, match_baseline)


def _segment_sums(flags: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Sum of ``flags`` over each inclusive row range ``first[i]..last[i]``."""
    cumulative = np.r_[0, np.cumsum(flags.astype(np.int64))]
    return cumulative[last + 1] - cumulative[first]


def _empty_spans() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in SPAN_DTYPES.items()})
