"""One CVAT video task into the label store (``cvops import-cvat``), with CVAT's meaning kept exactly.

Frame numbers: CVAT numbers a video's frames from 0 and a task holds ``start_frame, start_frame + step, ...``
up to ``stop_frame``; the store numbers the same video's frames from 1 in presentation order. So CVAT frame
``c`` is store frame ``c + 1``, whatever the task's range and step: a task made with ``start_frame=100``,
``stop_frame=1099`` and ``frame_filter=step=5`` shows 200 frames, numbered 0-199 in CVAT's UI; the XML writes
UI frame ``k`` as ``100 + 5k``, and it becomes store frame ``101 + 5k``. Between keyframes the store
interpolates every video frame, which agrees with CVAT on the task's frames (linear in either numbering).

What CVAT draws and the store's keyframes reproduce, checked on every export that carries CVAT's interpolated
rows: keyframes (``keyframe="1"``) become keyframe rows, outside ones included (they end a span: schema
version 2); interpolated rows are dropped, after checking that the store's interpolation gives the same boxes
(to 0.02 px, the XML's rounding); a track whose last keyframe is visible is drawn by CVAT to the end of the task,
so it gets a closing keyframe (a copy of its last box) on the task's last frame. Two things CVAT writes that
mean nothing in the store are dropped: outside keyframes before a track's first visible one, and a final
outside keyframe on the task frame right after the last visible one (the track ends there anyway).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pandas as pd

from cvops.errors import InputError
from cvops.labels.cvat import CvatTask, CvatTracks, read_cvat_video_xml
from cvops.labels.interpolate import interpolate_keyframes
from cvops.labels.store import KEYFRAME_COLUMNS, KEYFRAME_FLAGS, REMOTE_SCHEMES, ROLES, LabelStore, MatchRecord

MAX_INTERPOLATION_DEVIATION_PX = 0.02
"""The XML rounds boxes to 0.01 px: CVAT's interpolated boxes and ours from its rounded keyframes differ by less."""


@dataclass(frozen=True)
class CvatImportSummary:
    """What ``import_cvat`` wrote, and what it left out and why."""

    match_id: str
    replaced: bool
    tracks: int
    keyframes: int
    outside_keyframes: int
    closing_keyframes: int
    dropped_outside: int
    interpolated_checked: int
    max_deviation_px: float
    roles: dict[str, int]
    skipped_tracks: dict[str, int] = field(default_factory=dict)
    skipped_shapes: dict[str, int] = field(default_factory=dict)
    frame_mapping: str = ""

    def lines(self) -> list[str]:
        skipped = ", ".join(f"{n} {kind}" for kind, n in sorted(self.skipped_tracks.items())) or "none"
        shapes = sum(self.skipped_shapes.values())
        return [
            f"{'replaced' if self.replaced else 'added'} match {self.match_id}: {self.tracks} box tracks, "
            f"{self.keyframes} keyframes ({self.outside_keyframes} outside, {self.closing_keyframes} closing)",
            f"frames: {self.frame_mapping}",
            "roles: " + ", ".join(f"{role} {n}" for role, n in sorted(self.roles.items())),
            f"checked {self.interpolated_checked} interpolated boxes against CVAT's: largest difference "
            f"{self.max_deviation_px:.3f} px",
            f"skipped tracks of other shape types: {skipped}" + (f" ({shapes} shapes)" if shapes else ""),
        ]


def parse_role_mapping(text: str) -> dict[str, str]:
    """``"Person=player,GK=goalkeeper"`` (or one ``LABEL=ROLE`` per line, ``#`` comments) as a dict."""
    mapping: dict[str, str] = {}
    for number, item in enumerate(text.replace("\n", ",").split(","), start=1):
        item = item.split("#", 1)[0].strip()
        if not item:
            continue
        label, sep, role = item.rpartition("=")
        label, role = label.strip(), role.strip().lower()
        if not sep or not label:
            raise InputError(f"expected LABEL=ROLE, got {item[:60]!r} (item {number})", field="roles")
        if role not in ROLES:
            raise InputError(
                f"{label!r} maps to unknown role {role!r}: expected one of {', '.join(ROLES)}", field="roles"
            )
        mapping[label] = role
    return mapping


def map_labels(labels: pd.Series, mapping: dict[str, str] | None, file: Path) -> pd.Series:
    """Each CVAT label's role: from ``mapping``, else the label itself when it is a role's name (any case). An
    unmapped label is an error that lists every one and how many tracks use it."""
    mapping = mapping or {}
    folded = {label.lower(): role for label, role in mapping.items()}

    def role_of(label: str) -> str | None:
        if label in mapping:
            return mapping[label]
        if label.lower() in folded:
            return folded[label.lower()]
        return label.lower() if label.lower() in ROLES else None

    distinct = {label: role_of(label) for label in labels.unique()}
    unmapped = sorted(label for label, role in distinct.items() if role is None)
    if unmapped:
        raise InputError(
            f"no role for CVAT label(s) {', '.join(repr(label) for label in unmapped)}: map them with "
            f"--roles LABEL=ROLE,... (roles: {', '.join(ROLES)})",
            file=file,
            field="label",
        )
    return labels.map(distinct).astype("string")


@dataclass(frozen=True)
class VideoFacts:
    """What the match's ``matches.csv`` row says about its video."""

    video: str
    fps: Fraction
    width: int
    height: int
    n_frames: int


def probe_local_video(path: Path) -> tuple[int, int, Fraction, int]:
    """``(width, height, fps, n_frames)`` of a local video file, from its container (frames counted by demuxing
    when the container does not say: one packet per frame)."""
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            frames = stream.frames or sum(1 for packet in container.demux(stream) if packet.size)
            width, height = stream.codec_context.width, stream.codec_context.height
    except (av.error.FFmpegError, IndexError) as exc:
        raise InputError(f"cannot read the video: {exc}", file=path) from None
    if not rate:
        raise InputError("the video does not state its frame rate: give --fps", file=path)
    return width, height, Fraction(rate).limit_denominator(1_000_000), int(frames)


def video_facts(
    store: LabelStore,
    match_id: str,
    existing: MatchRecord | None,
    task: CvatTask,
    *,
    video: str | None,
    fps: Fraction | None,
    xml: Path,
) -> VideoFacts:
    """The video of the match and its properties: probed from ``video`` when it is a local file, else taken from
    the store's row (``video`` not given) or from the XML's ``original_size`` and ``fps`` (a remote video).
    The XML's ``original_size`` must agree with the video's size, and ``fps`` with its rate."""
    if video is None and existing is None:
        raise InputError(f"match {match_id!r} is not in the store: give its --video", file=store.matches_file)
    remote = video is not None and urlparse(video).scheme.lower() in REMOTE_SCHEMES
    if video is None:
        assert existing is not None
        facts = VideoFacts(existing.video, existing.fps, existing.width, existing.height, existing.n_frames)
    elif remote:
        if task.original_size is None or (fps is None and existing is None):
            raise InputError(
                "a remote video is not probed: the XML's <original_size> and --fps give its size and rate",
                file=xml,
                field="original_size",
            )
        rate = fps if fps is not None else existing.fps  # type: ignore[union-attr]
        last = task.last_frame if task.last_frame is not None else 0
        facts = VideoFacts(video, rate, task.original_size[0], task.original_size[1], last + 1)
    else:
        path = Path(video)
        path = path if path.is_absolute() else Path.cwd() / path
        if not path.is_file():
            raise InputError("video file not found", file=path)
        width, height, rate, n_frames = probe_local_video(path)
        stored = str(path.resolve().relative_to(store.root.resolve())) if _inside(path, store.root) else str(path)
        facts = VideoFacts(stored, rate, width, height, n_frames)
    if fps is not None and fps != facts.fps:
        raise InputError(f"--fps {fps} disagrees with the video's frame rate {facts.fps}", field="fps")
    if task.original_size is not None and task.original_size != (facts.width, facts.height):
        raise InputError(
            f"the task's original_size is {task.original_size[0]}x{task.original_size[1]} but the video is "
            f"{facts.width}x{facts.height}: this XML was not made on this video",
            file=xml,
            field="original_size",
        )
    return facts


def _inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


def store_keyframes(tracks: CvatTracks, roles: pd.Series, n_frames: int) -> tuple[pd.DataFrame, dict[str, int]]:
    """The store's keyframes for CVAT's (store frame = CVAT frame + 1), with CVAT's drawing made explicit:
    closing keyframes for tracks CVAT draws to the end of the task, meaningless outside keyframes dropped.
    Returns the keyframes and counts of what was added and dropped."""
    task = tracks.task
    frame = tracks.keyframes.assign(role=roles.to_numpy())
    keep = np.ones(len(frame), dtype=bool)
    closing: list[dict] = []
    last_task_frame = task.last_frame
    for _, rows in frame.groupby("track", sort=False):
        index = rows.index.to_numpy()
        visible = ~rows["outside"].to_numpy()
        if not visible.any():
            keep[index] = False
            continue
        first_visible = int(np.argmax(visible))
        keep[index[:first_visible]] = False  # outside before the object was ever shown
        last = rows.iloc[-1]
        if last.outside:
            previous = rows.iloc[-2]
            if not previous.outside and last.frame == previous.frame + task.step:
                keep[index[-1]] = False  # the track ends on its last visible keyframe either way
        elif last_task_frame is not None and last.frame < last_task_frame:
            closing.append({**last.to_dict(), "frame": last_task_frame, "occluded": bool(last.occluded)})
    dropped = int((~keep).sum())
    frame = pd.concat([frame[keep], pd.DataFrame(closing, columns=frame.columns)], ignore_index=True)
    frame = frame.astype({"outside": "bool", "occluded": "bool", "frame": "int64", "track": "int64"})
    keyframes = pd.DataFrame(
        {
            "frame": frame["frame"].to_numpy() + 1,
            "track_id": frame["track"].to_numpy(),
            "role": frame["role"].to_numpy(),
            **{name: frame[name].to_numpy(dtype="float64") for name in ("x", "y", "w", "h")},
            "outside": frame["outside"].to_numpy(),
            "occluded": frame["occluded"].to_numpy(),
        }
    )
    past = keyframes["frame"] > n_frames
    if past.any():
        first = keyframes[past].iloc[0]
        raise InputError(
            f"track id={first.track_id} has a keyframe on CVAT frame {first.frame - 1}, past the video's "
            f"{n_frames} frames",
            field="frame",
        )
    keyframes = keyframes.sort_values(["frame", "track_id"], kind="stable").reset_index(drop=True)
    return keyframes[[*KEYFRAME_COLUMNS, *KEYFRAME_FLAGS]], {"closing": len(closing), "dropped": dropped}


def check_against_cvat(keyframes: pd.DataFrame, tracks: CvatTracks, n_frames: int, file: Path) -> tuple[int, float]:
    """Compare the store's interpolation of ``keyframes`` with the boxes CVAT drew between its keyframes (the
    export's ``keyframe="0"`` rows); returns how many were compared and the largest difference in pixels.

    A difference beyond rounding means the two do not draw the same thing (an export this module does not read
    faithfully), and is an error rather than a silent change of the labels."""
    drawn = tracks.interpolated
    if drawn.empty:
        return 0, 0.0
    ours = interpolate_keyframes(keyframes, n_frames=n_frames)
    joined = drawn.assign(frame=drawn["frame"] + 1).merge(
        ours, left_on=["track", "frame"], right_on=["track_id", "frame"], how="left", suffixes=("_cvat", "")
    )
    missing = joined["x"].isna()
    if missing.any():
        first = joined[missing].iloc[0]
        raise InputError(
            f"CVAT draws track id={first.track} on frame {first.frame - 1}, but its keyframes do not: the export "
            "and its keyframes disagree",
            file=file,
        )
    differences = np.abs(
        joined[["x_cvat", "y_cvat", "w_cvat", "h_cvat"]].to_numpy() - joined[["x", "y", "w", "h"]].to_numpy()
    )
    worst = float(differences.max())
    if worst > MAX_INTERPOLATION_DEVIATION_PX:
        row = joined.iloc[int(np.argmax(differences.max(axis=1)))]
        raise InputError(
            f"CVAT's interpolated box of track id={row.track} on frame {row.frame - 1} differs from the store's "
            f"interpolation of its keyframes by {worst:.3f} px",
            file=file,
        )
    return len(joined), worst


def import_cvat(
    xml: str | Path,
    store_root: str | Path,
    *,
    match_id: str,
    video: str | None = None,
    fps: Fraction | None = None,
    roles: dict[str, str] | None = None,
    replace: bool = False,
) -> CvatImportSummary:
    """Add (or, with ``replace``, replace) match ``match_id`` of the store from a "CVAT for video 1.1" export.

    Everything is read and checked before anything is written; then the keyframes and, last, the
    ``matches.csv`` row (status ``annotated``: a person annotated the match in CVAT) are written atomically.
    ``annotated_at`` is the task's ``updated`` time from the XML (else now).
    """
    xml = Path(xml)
    store = LabelStore(store_root)
    existing = store.read_matches().matches.get(match_id) if store.matches_file.exists() else None
    if existing is not None and not replace:
        raise InputError(
            f"match {match_id!r} is already in the store (status {existing.status}); use --replace to replace it",
            file=store.matches_file,
        )
    tracks = read_cvat_video_xml(xml)
    task = tracks.task
    facts = video_facts(store, match_id, existing, task, video=video, fps=fps, xml=xml)
    roles_of_rows = map_labels(tracks.keyframes["label"], roles, xml)
    keyframes, counts = store_keyframes(tracks, roles_of_rows, facts.n_frames)
    if keyframes.empty:
        raise InputError("the export has no box track to import", file=xml)
    checked, worst = check_against_cvat(keyframes, tracks, facts.n_frames, xml)

    store.write_keyframes(match_id, keyframes)
    annotated_at = _timestamp(task.updated)
    carried = existing.__dict__ if existing is not None else {}
    row = {
        "match_id": match_id,
        "video": facts.video,
        "fps": str(facts.fps),
        "width": str(facts.width),
        "height": str(facts.height),
        "n_frames": str(facts.n_frames),
        **{name: carried.get(name) or "unknown" for name in ("pitch", "home_team", "away_team", "weather")},
        "kickoff": carried["kickoff"].isoformat() if carried.get("kickoff") is not None else "",
        "annotated_at": annotated_at.isoformat(),
        "status": "annotated",
    }
    store.upsert_match_rows([row])
    visible = keyframes[~keyframes["outside"]]
    return CvatImportSummary(
        match_id=match_id,
        replaced=existing is not None,
        tracks=int(keyframes["track_id"].nunique()),
        keyframes=len(keyframes),
        outside_keyframes=int(keyframes["outside"].sum()),
        closing_keyframes=counts["closing"],
        dropped_outside=counts["dropped"],
        interpolated_checked=checked,
        max_deviation_px=worst,
        roles={str(k): int(v) for k, v in visible.groupby("role")["track_id"].nunique().items()},
        skipped_tracks=tracks.skipped_tracks,
        skipped_shapes=tracks.skipped_shapes,
        frame_mapping=(
            f"CVAT frame c is store frame c + 1 (task frames {task.start_frame}..{task.last_frame}, step {task.step})"
        ),
    )


def _timestamp(text: str | None) -> pd.Timestamp:
    """CVAT's ``updated``/``dumped`` time (``2024-05-01 10:00:00.123+00:00``), in UTC; now when absent."""
    if text:
        try:
            parsed = pd.Timestamp(datetime.fromisoformat(text))
        except ValueError:
            parsed = None
        if parsed is not None:
            return parsed.tz_localize("UTC") if parsed.tzinfo is None else parsed.tz_convert("UTC")
    return pd.Timestamp(datetime.now(tz=UTC))
