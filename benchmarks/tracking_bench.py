"""Tracker, metrics and MOT-file throughput, and tracker quality on simulated football scenes.

Run: .venv/bin/python benchmarks/tracking_bench.py [--frames 3000] [--players 22] [--rows 1000000]

Quality figures come from the simulated detector of ``cvops.tracking.simulate`` (synthetic, not a real model);
they compare the tracker with and without appearance embeddings on identical detections.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from cvops.metrics import combine, evaluate_sequence, weighted_error
from cvops.tracking import read_mot_gt, track_sequence, write_mot_gt
from cvops.tracking.simulate import DetectorModel, random_scene, simulate_detections


def _timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def _without_embeddings(detections: pd.DataFrame) -> pd.DataFrame:
    return detections.drop(columns=[c for c in detections.columns if c.startswith("emb_")])


def bench_tracker(players: int, frames: int, seeds: int) -> None:
    print(f"## Tracker: {players} players, {frames} frames x {seeds} seeds, 0.5 false positives/frame\n")
    print("Both variants see the same detections; 'IoU only' has the embedding columns dropped.\n")
    print("| variant | frames/s | HOTA | IDF1 | MOTA | ID switches | weighted error |")
    print("|---|---|---|---|---|---|---|")
    scenes = []
    for seed in range(seeds):
        gt = random_scene(players, frames, seed=seed)
        model = DetectorModel(embedding_dim=128, false_positives_per_frame=0.5)
        scenes.append((gt, simulate_detections(gt, model, seed=1000 + seed)))
    for name, prepare in (("embeddings (D=128)", lambda d: d), ("IoU only", _without_embeddings)):
        results, seconds = [], 0.0
        for gt, detections in scenes:
            tracks, elapsed = _timed(track_sequence, prepare(detections))
            seconds += elapsed
            results.append(evaluate_sequence(gt, tracks))
        total = combine(results)
        print(
            f"| {name} | {frames * seeds / seconds:.0f} | {total.hota:.3f} | {total.idf1:.3f} | {total.mota:.3f} "
            f"| {total.id_switches} | {weighted_error(total):.4f} |"
        )
    print()


def bench_metrics(players: int, frames: int) -> None:
    gt = random_scene(players, frames, seed=1)
    tracks = track_sequence(simulate_detections(gt, seed=2))
    _, elapsed = _timed(evaluate_sequence, gt, tracks)
    print(f"## Metrics: evaluate_sequence on {len(gt)} GT / {len(tracks)} tracker boxes, {frames} frames\n")
    print(f"{elapsed:.2f} s ({len(gt) / elapsed:,.0f} GT boxes/s)\n")


def bench_mot_files(rows: int) -> None:
    rng = np.random.default_rng(0)
    frames = np.repeat(np.arange(1, rows // 22 + 2), 22)[:rows]
    ids = np.tile(np.arange(1, 23), rows // 22 + 1)[:rows]
    table = pd.DataFrame(
        {
            "frame": frames,
            "id": ids,
            "x": rng.uniform(0, 1800, rows),
            "y": rng.uniform(0, 900, rows),
            "w": 40.0,
            "h": 100.0,
        }
    )
    with tempfile.TemporaryDirectory() as folder:
        strict = Path(folder) / "gt.txt"
        _, write_seconds = _timed(write_mot_gt, strict, table)
        tolerant = Path(folder) / "gt_spaces.txt"
        tolerant.write_text(strict.read_text().replace(",", ", "))
        _, fast_seconds = _timed(read_mot_gt, strict)
        _, slow_seconds = _timed(read_mot_gt, tolerant)
    print(f"## MOT files: {rows:,} rows (9-column ground truth)\n")
    print("| operation | seconds | rows/s |")
    print("|---|---|---|")
    print(f"| write (`write_mot_gt`, pyarrow) | {write_seconds:.2f} | {rows / write_seconds:,.0f} |")
    print(f"| read, pyarrow path (strict commas) | {fast_seconds:.2f} | {rows / fast_seconds:,.0f} |")
    print(f"| read, line reader (', ' separators) | {slow_seconds:.2f} | {rows / slow_seconds:,.0f} |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--players", type=int, default=22)
    parser.add_argument("--frames", type=int, default=3000, help="frames per simulated sequence (25 fps: 2 min)")
    parser.add_argument("--seeds", type=int, default=3, help="simulated sequences per tracker variant")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the MOT file benchmark")
    args = parser.parse_args()
    bench_tracker(args.players, args.frames, args.seeds)
    bench_metrics(args.players, args.frames)
    bench_mot_files(args.rows)


if __name__ == "__main__":
    main()
