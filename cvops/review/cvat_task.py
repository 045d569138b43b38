"""A match as a CVAT task with pre-annotations (``cvops export-cvat``): the whole match, or its review queue.

What a task folder holds (docs/review.md):

* ``annotations.xml``: "CVAT for video 1.1", to upload to the task with CVAT's importer "CVAT 1.1";
* ``task.json``: what to create the task with (name, labels with the ``pseudo_label`` attribute, mode,
  ``start_frame``, ``stop_frame``, ``frame_filter``; the video for a whole match, the images for a queue);
* ``frames.csv``: the task's frames: ``cvat_frame`` (CVAT's number) and ``frame`` (the match's, 1-based), plus
  for a queue the item's rank, kind and why it was ranked;
* for a queue, ``images/frame_XXXXXX.jpg``: the queued frames (named after their 0-based video frame, as CVAT
  names a video's frames), since a task of scattered frames is an image task.

A whole-match task covers the video's frames ``0 .. n_frames - 1`` (step 1), so CVAT frame ``c`` is the match's
frame ``c + 1``, as ``cvops import-cvat`` reads it back. Every track run ends with an outside keyframe on the frame
after its last box, or CVAT would draw it to the end of the task.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cvops.catalog import Catalog
from cvops.errors import InputError
from cvops.io import write_text_atomic
from cvops.labels.cvat import CvatTaskSpec, write_cvat_video_xml
from cvops.labels.interpolate import interpolate_keyframes
from cvops.labels.store import MATCH_COLUMNS, ROLES, LabelStore, MatchRecord
from cvops.redaction import redact_url
from cvops.review.tracks import keyframes_from_tracks
from cvops.video.extractor import FrameExtractor


@dataclass(frozen=True)
class CvatTaskExport:
    """What ``write_cvat_task`` wrote."""

    folder: Path
    frames: int
    tracks: int
    boxes: int
    pseudo_labels: bool


def cvat_keyframes(keyframes: pd.DataFrame, n_frames: int) -> pd.DataFrame:
    """The store's keyframes (match frames) as CVAT keyframes of a whole-match task: CVAT frame = frame - 1, an
    outside keyframe without a box given its track's last box (CVAT needs one), and an outside keyframe after
    each track's last visible keyframe so that CVAT does not draw it to the end of the task."""
    ordered = keyframes.sort_values(["track_id", "frame"], kind="stable").reset_index(drop=True)
    outside = ordered["outside"].to_numpy(dtype=bool) if "outside" in ordered else np.zeros(len(ordered), bool)
    boxes = ordered[["x", "y", "w", "h"]].groupby(ordered["track_id"]).ffill()
    rows = ordered.assign(**{name: boxes[name] for name in boxes}, outside=outside)
    rows = rows[rows[["x", "y", "w", "h"]].notna().all(axis=1)]  # outside before any box: nothing to hide
    last = rows.groupby("track_id").tail(1)
    closing = last[~last["outside"] & (last["frame"] < n_frames)].assign(frame=lambda t: t["frame"] + 1, outside=True)
    rows = pd.concat([rows, closing], ignore_index=True)
    occluded = rows.get("occluded", False)
    return pd.DataFrame(
        {
            "track": rows["track_id"].to_numpy(),
            "label": rows["role"].astype(str).to_numpy(),
            "frame": rows["frame"].to_numpy() - 1,
            **{name: rows[name].to_numpy(dtype="float64") for name in ("x", "y", "w", "h")},
            "outside": rows["outside"].to_numpy(dtype=bool),
            "occluded": np.asarray(occluded, dtype=bool) if np.ndim(occluded) else np.zeros(len(rows), bool),
        }
    )


def queue_keyframes(keyframes: pd.DataFrame, frames: list[int], n_frames: int) -> pd.DataFrame:
    """The boxes of ``frames`` (match frames, sorted), as CVAT keyframes of an image task whose frame ``i`` is
    ``frames[i]``: every shown box a keyframe, and an outside keyframe where a track is gone from the next image
    (nothing is interpolated between images that lie far apart in the video)."""
    drawn = interpolate_keyframes(keyframes, n_frames=n_frames)
    index = {frame: i for i, frame in enumerate(frames)}
    shown = drawn[drawn["frame"].isin(index)].assign(cvat=lambda t: t["frame"].map(index))
    occluded_rows = keyframes.set_index(["track_id", "frame"])["occluded"] if "occluded" in keyframes else None
    rows = []
    for track_id, track in shown.sort_values(["track_id", "cvat"]).groupby("track_id"):
        positions = track["cvat"].to_numpy()
        for row, position in zip(track.itertuples(index=False), positions, strict=True):
            occluded = bool(occluded_rows.get((track_id, row.frame), False)) if occluded_rows is not None else False
            rows.append((track_id, str(row.role), position, row.x, row.y, row.w, row.h, False, occluded))
            if position + 1 < len(frames) and position + 1 not in positions:
                rows.append((track_id, str(row.role), position + 1, row.x, row.y, row.w, row.h, True, False))
    return pd.DataFrame(rows, columns=["track", "label", "frame", "x", "y", "w", "h", "outside", "occluded"])


def write_cvat_task(
    out: str | Path,
    match: MatchRecord,
    keyframes: pd.DataFrame,
    *,
    pseudo_labels: bool,
    queue: pd.DataFrame | None = None,
    images: dict[int, Path] | None = None,
    dumped: str,
) -> CvatTaskExport:
    """Write the CVAT task of ``match`` into ``out``: its ``keyframes`` (match frames, the store's columns) for the
    whole match, or, with ``queue`` (``review_queue`` rows) and ``images`` (frame -> image file), for the queued
    frames only. Files are written atomically; a re-run replaces them."""
    out = Path(out)
    if queue is None:
        boxes = cvat_keyframes(keyframes, match.n_frames)
        spec = CvatTaskSpec(
            name=f"{match.match_id}{' pseudo-labels' if pseudo_labels else ''}",
            size=match.n_frames,
            mode="interpolation",
            start_frame=0,
            stop_frame=match.n_frames - 1,
            step=1,
            labels=ROLES,
            original_size=(match.width, match.height),
            source=Path(redact_url(match.video)).name,
        )
        frame_list = pd.DataFrame({"cvat_frame": np.arange(match.n_frames), "frame": np.arange(1, match.n_frames + 1)})
        media = {"video": redact_url(match.video)}
    else:
        frames = sorted(int(f) for f in queue["frame"].unique())
        if not frames:
            raise InputError("the review queue is empty: nothing to export", match_id=match.match_id)
        missing = [f for f in frames if images is None or f not in images]
        if missing:
            raise InputError(f"no image of queued frame {missing[0]}", match_id=match.match_id)
        boxes = queue_keyframes(keyframes, frames, match.n_frames)
        names = [f"frame_{frame - 1:06d}.jpg" for frame in frames]
        spec = CvatTaskSpec(
            name=f"{match.match_id} review queue",
            size=len(frames),
            mode="annotation",
            start_frame=0,
            stop_frame=len(frames) - 1,
            step=1,
            labels=ROLES,
            original_size=None,
            source=None,
        )
        first = queue.sort_values("rank").drop_duplicates("frame").set_index("frame")
        frame_list = pd.DataFrame(
            {
                "cvat_frame": np.arange(len(frames)),
                "frame": frames,
                "image": names,
                "rank": first.loc[frames, "rank"].to_numpy(),
                "kind": first.loc[frames, "kind"].to_numpy(),
                "detail": first.loc[frames, "detail"].to_numpy(),
            }
        )
        image_dir = out / "images"
        image_dir.mkdir(parents=True, exist_ok=True)
        for frame, name in zip(frames, names, strict=True):
            shutil.copyfile(images[frame], image_dir / name)  # type: ignore[index]
        media = {"images": [f"images/{name}" for name in names]}
    write_cvat_video_xml(out / "annotations.xml", spec, boxes, pseudo_labels=pseudo_labels, dumped=dumped)
    task = {
        "name": spec.name,
        "labels": spec.labels_json(),
        "mode": spec.mode,
        "start_frame": spec.start_frame,
        "stop_frame": spec.stop_frame,
        "frame_filter": f"step={spec.step}" if spec.step > 1 else "",
        **media,
        "annotations": "annotations.xml (format 'CVAT 1.1')",
        "pseudo_labels": pseudo_labels,
    }
    write_text_atomic(out / "task.json", json.dumps(task, indent=2) + "\n")
    write_text_atomic(out / "frames.csv", frame_list.to_csv(index=False, lineterminator="\n"))
    return CvatTaskExport(out, spec.size, int(boxes["track"].nunique()), len(boxes), pseudo_labels)


SOURCES = ("labels", "predictions")


@dataclass(frozen=True)
class MatchExport:
    """``export_match``'s result: the task, and what it did to the label store."""

    task: CvatTaskExport
    source: str
    offset: int
    """The sync offset applied to the labels (label frame f shows video frame f + offset)."""
    store_note: str | None


def export_match(
    match_id: str,
    out: str | Path,
    *,
    source: str,
    queue_only: bool,
    store: LabelStore,
    catalog: Catalog,
    extractor: FrameExtractor | None = None,
) -> MatchExport:
    """Write match ``match_id`` as a CVAT task into ``out`` (``cvops export-cvat``).

    ``source="labels"``: the store's keyframes, moved to video frames by the match's sync offset when cleaning
    applied one (so the boxes sit on the video CVAT shows). ``source="predictions"``: the production model's
    tracks (``model_tracks``) as pseudo-labels; a match nobody has annotated also gets them in the label store,
    with status ``pseudo_labelled``, which keeps them out of every dataset version until a person's annotation
    replaces them (``cvops import-cvat --replace``). ``queue_only`` exports only the review queue's frames (their
    images through ``extractor``).
    """
    if source not in SOURCES:
        raise InputError(f"unknown source {source!r}: expected one of {', '.join(SOURCES)}", field="from")
    match = store.match(match_id)
    offset, note = 0, None
    if source == "labels":
        keyframes = store.read_keyframes(match_id, n_frames=match.n_frames)
        sync = _read(catalog, "match_sync", match_id)
        offset = int(sync["offset"].iloc[0]) if len(sync) else 0
        keyframes = _shift(keyframes, offset, match.n_frames)
        pseudo = match.status == "pseudo_labelled"
    else:
        tracks = _read(catalog, "model_tracks", match_id)
        if tracks.empty:
            raise InputError(
                "no model tracks for this match: materialise its review_queue first (the model's tracks are made "
                "there)",
                match_id=match_id,
            )
        keyframes = keyframes_from_tracks(tracks, frame_step=_frame_step(tracks))
        pseudo = True
        if not match.is_annotated:
            store.write_keyframes(match_id, keyframes)
            store.upsert_match_rows([{**_row(match), "status": "pseudo_labelled"}])
            note = f"label store: {match_id} holds the model's tracks as pseudo-labels (status pseudo_labelled)"
    queue = images = None
    if queue_only:
        queue = _read(catalog, "review_queue", match_id)
        if queue.empty:
            raise InputError("the match has no review queue (or an empty one)", match_id=match_id)
        if extractor is None:
            raise InputError("exporting a queue needs a frame extractor for its images", match_id=match_id)
        extracted = extractor.extract(match.video, sorted(set(queue["frame"].astype(int))), base_dir=store.root)
        images = {int(s.frame): Path(s.path) for s in extracted.samples}
    dumped = pd.Timestamp.now(tz="UTC").isoformat()
    task = write_cvat_task(out, match, keyframes, pseudo_labels=pseudo, queue=queue, images=images, dumped=dumped)
    return MatchExport(task, source, offset, note)


def _read(catalog: Catalog, table: str, match_id: str) -> pd.DataFrame:
    """The match's rows of ``table``; none when the step writing it has not run for the match."""
    if not catalog.manifests.file(table, match_id).exists():
        return pd.DataFrame()
    return catalog.read(table, match_id)


def _shift(keyframes: pd.DataFrame, offset: int, n_frames: int) -> pd.DataFrame:
    """Label frames to video frames; keyframes that fall outside the video are dropped."""
    shifted = keyframes.assign(frame=keyframes["frame"] + offset)
    return shifted[shifted["frame"].between(1, n_frames)].reset_index(drop=True)


def _frame_step(tracks: pd.DataFrame) -> int:
    """The step of the frames the model looked at (the smallest gap within a track; 1 when every frame)."""
    gaps = tracks.sort_values(["track_id", "frame"]).groupby("track_id")["frame"].diff().dropna()
    return int(gaps[gaps > 0].min()) if (gaps > 0).any() else 1


def _row(match: MatchRecord) -> dict[str, str]:
    """The match's ``matches.csv`` row as text (the video as written in the store, credentials included)."""
    values = {**match.__dict__, "fps": str(match.fps)}
    values["kickoff"] = match.kickoff.isoformat() if match.kickoff is not None else ""
    values["annotated_at"] = match.annotated_at.isoformat()
    return {name: str(values[name]) for name in MATCH_COLUMNS}
