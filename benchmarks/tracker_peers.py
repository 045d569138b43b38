"""Our tracker against Roboflow's ``trackers`` (Apache-2.0) on identical detections of synthetic leagues.

    .venv/bin/pip install -e ".[peers]"      # trackers==2.6.1, benchmark only
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tracker_peers.py --seeds 0 1 2 --pan-seeds 0 1 2

Each league is ``--matches`` synthetic matches of ``--seconds`` (``cvops synth``; ``--pan-seeds`` with the broadcast
camera that pans and zooms). Every tracker gets the same detections, the match's ``det.txt`` less the ball's
(the synthetic detector's people and its false positives), without classes or embeddings, and is scored with
``cvops.metrics`` against the true boxes of the people (what ``cvops evaluate`` computes). Two box conventions:
each tracker's Kalman estimate after the frame's update (ByteTrack's and our default output) and the matched
detection's own box (what ``trackers`` returns); compare rows of one convention only.

Peers, with their defaults at the video's frame rate: SORT, ByteTrack, OC-SORT, BoT-SORT (its camera-motion
compensation off on the static leagues, off and on on the panning ones) and C-BIoU. Frames/s counts the trackers'
``update`` calls on detections already in memory, not scoring. With camera-motion compensation it also counts
the motion estimation: ours decodes the video itself (``camera_motion_of_video``, decoding included, as
``cvops track --video`` runs), BoT-SORT's gets frames decoded beforehand (decoding not counted).
``--ablation`` prints the quality of each step from the previous defaults to ours on the given leagues.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cvops.metrics import SequenceMetrics, combine, evaluate_sequence
from cvops.synth import SynthConfig, generate_store
from cvops.tracking import OnlineTracker, TrackerConfig
from cvops.tracking.camera_motion import camera_motion_of_video

FrameDetections = tuple[np.ndarray, np.ndarray]
"""One frame's (N, 4) xywh boxes and (N,) scores."""


@dataclass
class Match:
    """What every tracker is given for one match, and what it is scored against."""

    match_id: str
    truth: pd.DataFrame  # frame, id, x, y, w, h (people only)
    frames: list[FrameDetections]
    video: Path
    fps: float


def league(root: Path, seed: int, camera: str, matches: int, seconds: float) -> list[Match]:
    """The league of ``seed`` under ``root`` (written by ``cvops synth`` on first use, then reused)."""
    store = root / f"{camera}-seed{seed}-{matches}x{seconds:g}s"
    config = SynthConfig(n_matches=matches, seconds=seconds, seed=seed, camera=camera)
    if not (store / "matches.csv").exists():
        generate_store(store, config, workers=2)
    return [_match(store, match_id, float(config.frame_rate)) for match_id in config.match_ids]


def _match(store: Path, match_id: str, fps: float) -> Match:
    truth_dir = store / "_truth" / match_id
    roles = pd.read_csv(truth_dir / "tracks.csv").set_index("track_id")["role"]
    balls = roles.index[roles == "ball"]
    boxes = pd.read_csv(truth_dir / "boxes.csv")
    truth = boxes[~boxes["track_id"].isin(balls)].rename(columns={"track_id": "id"})
    detections = pd.read_csv(truth_dir / "detections.csv")  # det.txt's rows, and the actor each came from
    detections = detections[~detections["track_id"].isin(balls)]
    by_frame = dict(iter(detections.groupby("frame")))
    empty = (np.zeros((0, 4)), np.zeros(0))
    frames = [
        (rows[["x", "y", "w", "h"]].to_numpy(float), rows["conf"].to_numpy(float)) if rows is not None else empty
        for rows in (by_frame.get(frame) for frame in range(1, int(boxes["frame"].max()) + 1))
    ]
    truth = truth[["frame", "id", "x", "y", "w", "h"]].reset_index(drop=True)
    return Match(match_id, truth, frames, store / "videos" / f"{match_id}.mp4", fps)


def decoded_frames(match: Match) -> list[np.ndarray]:
    from cvops.model.dataset_folder import decode_every_nth_frame

    return [image for _, image in decode_every_nth_frame(match.video, 1)]


@dataclass(frozen=True)
class Result:
    metrics: SequenceMetrics
    frames_per_second: float


def run_ours(matches: Sequence[Match], config: TrackerConfig, *, compensate: bool = False, stride: int = 1) -> Result:
    """Our tracker on every ``stride``-th frame (the benchmark's clips take every 2nd), optionally compensating
    the camera motion measured between those frames' images."""
    scored, seconds, n_frames = [], 0.0, 0
    for match in matches:
        frames = list(range(1, len(match.frames) + 1, stride))
        tracker = OnlineTracker(config)
        rows: list[tuple] = []
        start = time.perf_counter()
        motion = camera_motion_of_video(match.video, frames) if compensate else {}
        for frame in frames:
            boxes, scores = match.frames[frame - 1]
            found = tracker.update(boxes, scores, np.zeros(len(boxes), np.int64), camera_motion=motion.get(frame))
            rows.extend(zip([frame] * len(found), found.track_ids, *found.boxes.T, strict=True))
        seconds += time.perf_counter() - start
        n_frames += len(frames)
        truth = match.truth[match.truth["frame"].isin(frames)]
        scored.append(evaluate_sequence(truth, pd.DataFrame(rows, columns=["frame", "id", "x", "y", "w", "h"])))
    return Result(combine(scored), n_frames / seconds)


def peer_trackers(fps: float) -> dict[str, Callable[[], object]]:
    """Roboflow ``trackers`` 2.6.1's trackers with their defaults, told the video's frame rate."""
    import trackers

    return {
        "SORT": lambda: trackers.SORTTracker(frame_rate=fps),
        "ByteTrack": lambda: trackers.ByteTrackTracker(frame_rate=fps),
        "OC-SORT": lambda: trackers.OCSORTTracker(frame_rate=fps),
        "BoT-SORT": lambda: trackers.BoTSORTTracker(frame_rate=fps, enable_cmc=False),
        "BoT-SORT with CMC": lambda: trackers.BoTSORTTracker(frame_rate=fps, enable_cmc=True),
        "C-BIoU": lambda: trackers.CBIoUTracker(frame_rate=fps),
    }


def run_peer(matches: Sequence[Match], name: str, *, kalman_boxes: bool) -> Result:
    import supervision as sv

    scored, seconds, n_frames = [], 0.0, 0
    for match in matches:
        tracker = peer_trackers(match.fps)[name]()
        images = [image[:, :, ::-1] for image in decoded_frames(match)] if "CMC" in name else None
        inputs = [
            sv.Detections(xyxy=np.column_stack([b[:, :2], b[:, :2] + b[:, 2:]]).reshape(-1, 4), confidence=s)
            for b, s in match.frames
        ]
        rows: list[tuple] = []
        start = time.perf_counter()
        for frame, detections in enumerate(inputs, start=1):
            out = tracker.update(detections, frame=None if images is None else images[frame - 1])
            ids = out.tracker_id[out.tracker_id >= 0]
            if kalman_boxes:  # the track's state after this frame's update, as ByteTrack's own output
                by_id = {t.tracker_id: t for t in tracker.tracks}
                xyxy = np.array([by_id[i].get_state_bbox() for i in ids]).reshape(-1, 4)
            else:
                xyxy = out.xyxy[out.tracker_id >= 0]
            rows.extend(zip([frame] * len(ids), ids, *xyxy[:, :2].T, *(xyxy[:, 2:] - xyxy[:, :2]).T, strict=True))
        seconds += time.perf_counter() - start
        n_frames += len(match.frames)
        scored.append(evaluate_sequence(match.truth, pd.DataFrame(rows, columns=["frame", "id", "x", "y", "w", "h"])))
    return Result(combine(scored), n_frames / seconds)


HEADER = (
    "| tracker | boxes | HOTA | IDF1 | MOTA | ID switches | FP | FN | frames/s |\n|---|---|---|---|---|---|---|---|---|"
)


def row(name: str, boxes: str, result: Result) -> str:
    m = result.metrics
    return (
        f"| {name} | {boxes} | {100 * m.hota:.1f} | {100 * m.idf1:.1f} | {100 * m.mota:.1f} | {m.id_switches} "
        f"| {m.fp} | {m.fn} | {result.frames_per_second:.0f} |"
    )


def compare(matches: Sequence[Match], *, panning: bool) -> None:
    """Every tracker in both box conventions, ours with and without camera-motion compensation, BoT-SORT's with
    it on the panning leagues; then ours on every 2nd frame as the benchmark's clips, with and without."""
    print(HEADER)
    for boxes in ("kalman", "detection"):
        ours = TrackerConfig(reported_boxes=boxes)
        print(row("cvops `TrackerConfig()`", boxes, run_ours(matches, ours)), flush=True)
        if panning or boxes == "kalman":
            compensated = run_ours(matches, ours, compensate=True)
            print(row("cvops, camera motion compensated", boxes, compensated), flush=True)
        for name in peer_trackers(25.0):
            if name == "BoT-SORT with CMC" and not panning:
                continue
            print(row(f"trackers {name}", boxes, run_peer(matches, name, kalman_boxes=boxes == "kalman")), flush=True)
    for compensate in (False, True):
        name = "cvops, every 2nd frame" + (", camera motion compensated" if compensate else "")
        print(row(name, "kalman", run_ours(matches, TrackerConfig(), compensate=compensate, stride=2)), flush=True)


def ablation_steps() -> list[tuple[str, TrackerConfig]]:
    """From the previous defaults to ours, one change at a time (each row keeps the changes above it)."""
    previous = TrackerConfig(
        kalman_velocity_weight=1 / 160,
        kalman_measurement_weight=1 / 20,
        refind_gate_probability=0.0,
        new_track_score=0.6,
    )
    refind = dataclasses.replace(previous, refind_gate_probability=TrackerConfig.refind_gate_probability)
    velocity = dataclasses.replace(refind, kalman_velocity_weight=TrackerConfig.kalman_velocity_weight)
    measurement = dataclasses.replace(velocity, kalman_measurement_weight=TrackerConfig.kalman_measurement_weight)
    assert dataclasses.replace(measurement, new_track_score=TrackerConfig.new_track_score) == TrackerConfig()
    return [
        ("previous defaults (ByteTrack / DeepSORT values)", previous),
        ("+ lost tracks re-found by Mahalanobis distance (`refind_gate_probability` 0.9)", refind),
        ("+ velocity noise 1/80 of the height (was 1/160)", velocity),
        ("+ measurement noise 0.075 of the height (was 1/20)", measurement),
        ("+ `new_track_score` 0.65 (was 0.6): `TrackerConfig()`", TrackerConfig()),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2], help="static leagues")
    parser.add_argument("--pan-seeds", type=int, nargs="*", default=[0, 1, 2], help="broadcast-camera leagues")
    parser.add_argument("--matches", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--store-dir", type=Path, default=None, help="keep the leagues here (default: a temp dir)")
    parser.add_argument("--ablation", action="store_true", help="only the ablation table, on the given leagues")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cvops-tracker-peers-") as tmp:
        root = args.store_dir or Path(tmp)
        leagues = [("static", seed) for seed in args.seeds] + [("broadcast", seed) for seed in args.pan_seeds]
        for camera, seed in leagues:
            matches = league(root, seed, camera, args.matches, args.seconds)
            print(f"\n### {camera} camera, seed {seed}: {args.matches} matches of {args.seconds:g} s\n")
            if args.ablation:
                print(HEADER)
                for name, config in ablation_steps():
                    print(row(name, config.reported_boxes, run_ours(matches, config)), flush=True)
            else:
                compare(matches, panning=camera == "broadcast")


if __name__ == "__main__":
    main()
