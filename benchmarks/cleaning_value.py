"""What the cleaning is worth: the same training run on raw labels, on cleaned labels, and on the truth.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/cleaning_value.py --seeds 0 1 --epochs 6 --ceiling [--defects heavy]

For each seed: a synthetic league (6 matches of 20 s, the last held out for the benchmark) and training sets over
the same frames (every 5th frame of the 5 training matches), which differ only in their boxes:

* raw: the product's labels as the product shows them (keyframes interpolated, ghosts kept, label frame taken as
  video frame even where the labels are out of sync);
* cleaned: the same labels through ``cvops.cleaning.clean_match`` (sync offset applied, ghosts removed);
* truth (``--ceiling``): the generator's true boxes, the best any cleaning could do.

Every arm trains for the same number of epochs with the same seed, so each sees the same images in the same order
and does the same work; a wall-clock budget would not (on a shared machine two runs of one budget take different
numbers of steps, which was the largest noise in this comparison). Each model then tracks the whole held-out match
(every 2nd frame) at its own operating point (its best-F1 confidence on the held-out match's every 5th frame, as
the platform does with the val split) and is scored against the synthetic *truth*, not against either label set,
with the platform's weighted error ((FN + FP + 5 IDSW) / ground-truth boxes). Prints one line per seed and arm,
then the mean relative reduction of the weighted error (cleaned against raw, and truth against raw when measured).
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from cvops.benchmark.evaluate import ClipConfig, benchmark_tracker, track_clip
from cvops.cleaning import VideoInfo, clean_match
from cvops.labels import LabelStore, interpolate_keyframes
from cvops.metrics import evaluate_sequence, weighted_error
from cvops.model import TrainConfig, train
from cvops.model.dataset_folder import DatasetSample, decode_every_nth_frame, write_dataset_folder
from cvops.synth import SynthConfig, generate_store
from cvops.tracking.mot import read_mot_detections

EVERY = 5
# The generator's defaults, and a stress profile: every match but the first out of sync by up to 5 frames
# (0.2 s at 25 fps, the cleaning's search range), and 2-4 players per match off the pitch for 4-8 s.
DEFECTS = {
    "default": {},
    "heavy": {"shifted_share": 0.9, "max_sync_offset": 5, "ghosts_per_match": (2, 4), "ghost_off_seconds": (4.0, 8.0)},
}
CLIP = ClipConfig(start=1, length=10_000, stride=2)


def label_set(store: Path, match_id: str, which: str) -> pd.DataFrame:
    """The ``raw``, ``cleaned`` or ``truth`` boxes of one match, keyed by the video frame they are used for."""
    if which == "truth":
        return _truth(store, match_id)
    labels = LabelStore(store)
    raw = interpolate_keyframes(labels.read_keyframes(match_id))
    if which == "raw":
        return raw.drop(columns="is_keyframe")
    match = labels.read_matches().matches[match_id]
    video = VideoInfo(match.n_frames, match.width, match.height, float(match.fps))
    cleaned = clean_match(match_id, raw, read_mot_detections(labels.detections_file(match_id)), video).cleaned_tracks
    return cleaned.drop(columns="match_id")


def _truth(store: Path, match_id: str) -> pd.DataFrame:
    return pd.read_csv(store / "_truth" / match_id / "boxes.csv")


def samples(store: Path, matches: list[str], which: str, held_out: str) -> Iterator[DatasetSample]:
    """Every 5th frame of every match: the held-out one as ``val`` with its true boxes, the others as ``train``
    with the ``which`` boxes."""
    for match_id in matches:
        boxes = label_set(store, match_id, which if match_id != held_out else "truth")
        for frame, image in decode_every_nth_frame(store / "videos" / f"{match_id}.mp4", EVERY):
            rows = boxes[boxes["frame"] == frame][["track_id", "role", "x", "y", "w", "h"]]
            split = "val" if match_id == held_out else "train"
            yield DatasetSample(match_id=match_id, frame=frame, split=split, image=image, boxes=rows)


def clip_images(store: Path, match_id: str, frames: list[int]) -> list[np.ndarray]:
    wanted = set(frames)
    return [
        image for frame, image in decode_every_nth_frame(store / "videos" / f"{match_id}.mp4", 1) if frame in wanted
    ]


def run_seed(seed: int, arms: tuple[str, ...], epochs: int, defects: dict, work: Path) -> dict[str, dict[str, float]]:
    """Weighted error and its parts per arm for one synthetic league."""
    store = work / f"store-{seed}"
    matches = generate_store(store, SynthConfig(n_matches=6, seconds=20, seed=seed, **defects))
    held_out = matches[-1]
    truth = _truth(store, held_out)
    frames = CLIP.frames(int(truth["frame"].max()))
    images = clip_images(store, held_out, frames)
    gt = truth[truth["frame"].isin(frames) & truth["role"].isin(CLIP.roles)].rename(columns={"track_id": "id"})
    results = {}
    for which in arms:
        root = write_dataset_folder(work / f"dataset-{seed}-{which}", samples(store, matches, which, held_out))
        config = TrainConfig(epochs=epochs, seed=seed, num_threads=1)
        result = train(root, config, log=lambda _: None)
        val_metrics = result.val_metrics or {}
        tracker = benchmark_tracker(val_metrics.get("track_score_threshold"))
        tracks = track_clip(result.model, frames, images, CLIP, tracker)
        m = evaluate_sequence(gt[["frame", "id", "x", "y", "w", "h"]], tracks.rename(columns={"track_id": "id"}))
        results[which] = {
            "error": weighted_error(m),
            "fn": m.fn / max(1, m.num_gt_dets),
            "fp": m.fp / max(1, m.num_gt_dets),
            "idsw": 5 * m.id_switches / max(1, m.num_gt_dets),
            "hota": m.hota,
            "ap50": val_metrics.get("player_ap50", float("nan")),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--ceiling", action="store_true", help="also train on the true boxes (the best case)")
    parser.add_argument("--defects", choices=sorted(DEFECTS), default="default", help="label defect profile")
    args = parser.parse_args()
    arms = ("raw", "cleaned", "truth") if args.ceiling else ("raw", "cleaned")
    reductions: dict[str, list[float]] = {arm: [] for arm in arms[1:]}
    with tempfile.TemporaryDirectory(prefix="cvops-cleaning-value-") as tmp:
        for seed in args.seeds:
            results = run_seed(seed, arms, args.epochs, DEFECTS[args.defects], Path(tmp) / args.defects)
            for arm, r in results.items():
                change = ""
                if arm != "raw":
                    reduction = 1.0 - r["error"] / results["raw"]["error"]
                    reductions[arm].append(reduction)
                    change = f": {reduction:+.1%} lower than raw"
                print(
                    f"seed {seed} {arm:>7}: weighted error {r['error']:.4f} = FN {r['fn']:.4f} + FP {r['fp']:.4f} "
                    f"+ 5 IDSW {r['idsw']:.4f} (HOTA {r['hota']:.3f}, val player AP50 {r['ap50']:.3f}){change}",
                    flush=True,
                )
    for arm, values in reductions.items():
        print(f"mean reduction of the weighted error, {arm} labels against raw: {np.mean(values):+.1%}")


if __name__ == "__main__":
    main()
