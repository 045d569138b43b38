"""How the tracker's score thresholds change a registered model's tracking on one synthetic match.

    CVOPS_HOME=.cvops .venv/bin/python benchmarks/operating_point.py m0002 m0003 --high 0.5 0.3 0.2

Detects with the model on the match's clip (the benchmark's default: every 2nd of the first 300 frames) and prints
the median confidence per class and the model's own operating point (its card). Then tracks those detections (one
``clip_detections`` pass, as the benchmark does) through the clip's frames with the benchmark's tracker
(``benchmark_tracker``) at each ``--high``, with ``new_track_score`` 0.1 above it, and scores the tracks against the
synthetic truth (``_truth/<match>``).
"""

from __future__ import annotations

import argparse
import dataclasses

import pandas as pd

from cvops.benchmark.scoring import ClipConfig, benchmark_tracker, clip_detections
from cvops.metrics import evaluate_sequence
from cvops.model.dataset_folder import decode_every_nth_frame
from cvops.model.export import load_torchscript
from cvops.registry import open_registry
from cvops.settings import CvopsPaths
from cvops.tracking import track_sequence


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("match")
    parser.add_argument("--high", type=float, nargs="+", default=[0.5, 0.3, 0.2])
    args = parser.parse_args()
    paths = CvopsPaths.from_env()
    registry = open_registry(paths.model_registry, cache_dir=paths.models_cache)
    model = load_torchscript(registry.torchscript_path(args.model))
    clip = ClipConfig()
    truth = pd.read_csv(paths.label_store / "_truth" / args.match / "boxes.csv")
    frames = clip.frames(int(truth["frame"].max()))
    wanted = set(frames)
    video = paths.label_store / "videos" / f"{args.match}.mp4"
    images = [image for frame, image in decode_every_nth_frame(video, 1) if frame in wanted]
    detections = clip_detections(model, frames, images, ClipConfig(roles=tuple(model.class_names)))
    names = dict(enumerate(model.class_names))
    medians = detections.groupby("cls")["conf"].median().round(3)
    print("median confidence per class:", {names[int(c)]: float(v) for c, v in medians.items()})
    print("operating point in the card:", registry.get(args.model).card.metrics.get("track_score_threshold"))
    people = detections[detections["cls"].map(names).isin(clip.roles)]
    gt = truth[truth["frame"].isin(frames) & truth["role"].isin(clip.roles)].rename(columns={"track_id": "id"})
    gt = gt[["frame", "id", "x", "y", "w", "h"]]
    print("| high_score / new_track_score | FN / GT | FP / GT | ID switches | MOTA | HOTA |")
    print("|---|---|---|---|---|---|")
    for high in args.high:
        tracker = dataclasses.replace(benchmark_tracker(None), high_score=high, new_track_score=high + 0.1)
        tracks = track_sequence(people, tracker, frames=frames)
        m = evaluate_sequence(gt, tracks.rename(columns={"track_id": "id"})[["frame", "id", "x", "y", "w", "h"]])
        n = max(1, m.num_gt_dets)
        print(
            f"| {high:.2f} / {high + 0.1:.2f} | {m.fn / n:.3f} | {m.fp / n:.3f} | {m.id_switches} | "
            f"{m.mota:.3f} | {m.hota:.3f} |"
        )


if __name__ == "__main__":
    main()
