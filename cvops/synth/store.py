"""Writing a synthetic label store (the public input contract) and the truth about its defects.

Layout under ``OUT`` (see ``docs/label-store.md`` for the contract)::

    matches.csv                      match_id,video,fps,width,height,n_frames,pitch,home_team,away_team,
                                     weather,kickoff,annotated_at,status
    label-store.json                 {"schema_version": 2}
    <match_id>/keyframes.csv         frame,track_id,role,x,y,w,h[,outside]  (label frames, keyframes only;
                                     outside exit rows, without a box, only with record_exits)
    <match_id>/det.txt               frame,-1,x,y,w,h,conf,-1,-1,-1    (video frames, MOT det, no header)
    videos/<match_id>.mp4            H.264, and with HLS: videos/<match_id>/index.m3u8 + seg_00000.ts ...
    _truth/matches.csv               match_id,sync_offset,n_ghost_spans,n_ghost_rows,n_tracks,n_keyframes,
                                     n_truth_boxes,n_detections,n_false_positives
    _truth/<match_id>/boxes.csv      frame,track_id,role,x,y,w,h      (video frames, every visible actor)
    _truth/<match_id>/ghosts.csv     track_id,start_frame,end_frame   (inclusive label-frame ranges)
    _truth/<match_id>/tracks.csv     track_id,role,team               (team: home, away, officials, ball)
    _truth/<match_id>/detections.csv frame,x,y,w,h,conf,track_id      (det.txt rows in order; -1 = false positive)
    _truth/<match_id>/camera.csv     frame,zoom,centre_x,centre_y     (broadcast camera only: the wide-view pixel
                                                                        at the picture's centre, and the zoom)

Every file is written atomically, and ``matches.csv`` last: a reader that goes by ``matches.csv`` never sees a
match whose files are still being written. Appending (``first_match_index > 0``) keeps every existing row of both
``matches.csv`` files byte for byte and replaces only rows of the ids being written, so re-running is idempotent.
"""

from __future__ import annotations

import csv
import io
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cvops.errors import InputError
from cvops.io import write_text_atomic
from cvops.labels.store import MATCH_COLUMNS, LabelStore
from cvops.synth.camera import Camera, broadcast_path
from cvops.synth.config import SynthConfig, format_fps, match_id, match_rng
from cvops.synth.encode import HLS_PLAYLIST, encode_mp4, make_hls
from cvops.synth.labels import annotate, detect, truth_table
from cvops.synth.league import fixture_row, make_fixture
from cvops.synth.render import MatchRenderer
from cvops.synth.scene import build_scene, image_boxes

MATCHES_COLUMNS = list(MATCH_COLUMNS)
TRUTH_MATCHES_COLUMNS = [
    "match_id",
    "sync_offset",
    "n_ghost_spans",
    "n_ghost_rows",
    "n_tracks",
    "n_keyframes",
    "n_truth_boxes",
    "n_detections",
    "n_false_positives",
]
TRUTH_DIR = "_truth"
VIDEOS_DIR = "videos"
BOX_DECIMALS = 2
CONF_DECIMALS = 3


@dataclass(frozen=True)
class WrittenMatch:
    """The ``matches.csv`` and ``_truth/matches.csv`` rows of one written match."""

    row: dict[str, str]
    truth_row: dict[str, str]


def _csv(frame: pd.DataFrame, *, header: bool = True) -> str:
    rounded = frame.round(
        {"x": BOX_DECIMALS, "y": BOX_DECIMALS, "w": BOX_DECIMALS, "h": BOX_DECIMALS, "conf": CONF_DECIMALS}
    )
    if "outside" in rounded:
        rounded["outside"] = rounded["outside"].astype("int64")  # the store's flags are 0/1
    return rounded.to_csv(index=False, header=header, lineterminator="\n")


def generate_match(out: Path, config: SynthConfig, index: int) -> WrittenMatch:
    """Simulate, render, encode, label and detect one match; write its files (not the ``matches.csv`` rows)."""
    mid = match_id(index)
    fixture = make_fixture(config, index)
    camera = Camera(config.width, config.height, fixture.stadium.view)
    scene = build_scene(config, fixture)
    path = None
    if config.camera == "broadcast":
        ball = next(i for i, actor in enumerate(scene.actors) if actor.role == "ball")
        camera_rng = match_rng(config.seed, index, "camera")
        path = broadcast_path(camera, scene.positions[:, ball], float(config.frame_rate), camera_rng)
    boxes = image_boxes(scene, camera, path)

    renderer = MatchRenderer(camera, fixture, scene, boxes, match_rng(config.seed, index, "render"), path)
    mp4 = out / VIDEOS_DIR / f"{mid}.mp4"
    encode_mp4(renderer.frames(), mp4, fps=config.frame_rate, gop=config.gop, crf=config.crf, b_frames=config.b_frames)
    video = f"{VIDEOS_DIR}/{mid}.mp4"
    if config.hls:
        make_hls(mp4, out / VIDEOS_DIR / mid, segment_seconds=config.hls_segment_seconds)
        video = f"{VIDEOS_DIR}/{mid}/{HLS_PLAYLIST}"

    labels = annotate(config, index, scene, boxes, camera)
    detections = detect(config, index, scene, boxes, camera, path)
    truth = truth_table(scene, boxes)
    tracks = pd.DataFrame(
        {
            "track_id": [a.track_id for a in scene.actors],
            "role": [a.role for a in scene.actors],
            "team": [a.team for a in scene.actors],
        }
    )

    write_text_atomic(out / mid / "keyframes.csv", _csv(labels.keyframes))
    write_text_atomic(out / mid / "det.txt", _csv(detections.drop(columns="track_id"), header=False))
    truth_dir = out / TRUTH_DIR / mid
    write_text_atomic(truth_dir / "boxes.csv", _csv(truth))
    write_text_atomic(truth_dir / "ghosts.csv", _csv(labels.ghosts))
    write_text_atomic(truth_dir / "tracks.csv", _csv(tracks))
    write_text_atomic(truth_dir / "detections.csv", _csv(detections[["frame", "x", "y", "w", "h", "conf", "track_id"]]))
    if path is not None:
        camera_table = pd.DataFrame(
            {
                "frame": np.arange(1, path.n_frames + 1),
                "zoom": path.zoom,
                "centre_x": path.centre[:, 0],
                "centre_y": path.centre[:, 1],
            }
        )
        write_text_atomic(truth_dir / "camera.csv", camera_table.round(4).to_csv(index=False, lineterminator="\n"))

    row = {
        "match_id": mid,
        "video": video,
        "fps": format_fps(config.frame_rate),
        "width": str(config.width),
        "height": str(config.height),
        "n_frames": str(scene.n_frames),
        **fixture_row(fixture),
    }
    truth_row = {
        "match_id": mid,
        "sync_offset": str(labels.sync_offset),
        "n_ghost_spans": str(len(labels.ghosts)),
        "n_ghost_rows": str(labels.n_ghost_rows),
        "n_tracks": str(len(scene.actors)),
        "n_keyframes": str(len(labels.keyframes)),
        "n_truth_boxes": str(len(truth)),
        "n_detections": str(len(detections)),
        "n_false_positives": str(int((detections["track_id"] < 0).sum())),
    }
    return WrittenMatch(row, truth_row)


def _read_rows(path: Path, columns: list[str]) -> list[dict[str, str]]:
    """Existing rows of a store CSV, as strings, so rewriting keeps them byte for byte."""
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames != columns:
            raise InputError(
                f"expected columns {','.join(columns)}, found {','.join(reader.fieldnames or [])}", file=path, row=1
            )
        rows = list(reader)
    for number, row in enumerate(rows, start=2):
        if None in row or any(value is None for value in row.values()):
            raise InputError("wrong number of fields", file=path, row=number)
    return rows


def _merge_rows(path: Path, columns: list[str], new_rows: list[dict[str, str]]) -> None:
    """Write ``path`` with its existing rows in place, rows of re-written ids replaced, new ids appended."""
    by_id = {row["match_id"]: row for row in new_rows}
    merged = [by_id.pop(row["match_id"], row) for row in _read_rows(path, columns)]
    merged.extend(row for row in new_rows if row["match_id"] in by_id)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(merged)
    write_text_atomic(path, text.getvalue())


def generate_store(
    out: Path,
    config: SynthConfig,
    *,
    workers: int = 1,
    progress: Callable[[str], None] | None = None,
) -> list[str]:
    """Write (or extend) the label store at ``out`` with the matches of ``config``; return their ids.

    ``workers > 1`` renders and encodes that many matches at once in separate processes; the output is the same.
    ``progress`` is called with each match id once its files are written.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    # Fail on a malformed existing store before spending minutes on rendering.
    _read_rows(out / "matches.csv", MATCHES_COLUMNS)
    _read_rows(out / TRUTH_DIR / "matches.csv", TRUTH_MATCHES_COLUMNS)
    indices = list(config.match_indices)
    written: list[WrittenMatch] = []
    if workers <= 1:
        for index in indices:
            written.append(generate_match(out, config, index))
            if progress is not None:
                progress(match_id(index))
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [pool.submit(generate_match, out, config, index) for index in indices]
            for index, future in zip(indices, futures, strict=True):
                written.append(future.result())
                if progress is not None:
                    progress(match_id(index))
    _merge_rows(out / TRUTH_DIR / "matches.csv", TRUTH_MATCHES_COLUMNS, [w.truth_row for w in written])
    LabelStore(out).declare_schema_version()
    _merge_rows(out / "matches.csv", MATCHES_COLUMNS, [w.row for w in written])
    return [w.row["match_id"] for w in written]
