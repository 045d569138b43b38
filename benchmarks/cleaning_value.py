"""What the cleaning is worth: the same training budget on raw labels and on cleaned labels.

    .venv/bin/python benchmarks/cleaning_value.py --seeds 0 1 --train-minutes 3

For each seed: a synthetic league (6 matches of 20 s, one held out for the benchmark), two training sets over the
same frames (every 5th frame of the 5 training matches):

* raw: the product's labels as the product shows them (keyframes interpolated, ghosts kept, label frame taken as
  video frame even where the labels are out of sync);
* cleaned: the same labels through ``cvops.cleaning.clean_match`` (sync offset applied, ghosts removed).

Both models train with the same config and budget, then track the held-out match (300 frames, every 2nd) and are
scored against the synthetic *truth*, not against either label set, with the platform's weighted error
((FN + FP + 5 IDSW) / ground-truth boxes). Prints one line per seed and the mean relative reduction.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from cvops.benchmark.evaluate import ClipConfig, track_clip
from cvops.cleaning import VideoInfo, clean_match
from cvops.labels import LabelStore, interpolate_keyframes
from cvops.metrics import evaluate_sequence, weighted_error
from cvops.model import TrainConfig, train
from cvops.model.dataset_folder import DatasetSample, decode_every_nth_frame, write_dataset_folder
from cvops.synth import SynthConfig, generate_store
from cvops.tracking.mot import read_mot_detections

EVERY = 5
CLIP = ClipConfig(start=1, length=300, stride=2)


def label_sets(store: Path, match_id: str) -> dict[str, pd.DataFrame]:
    """The raw and the cleaned labels of one match, both keyed by the video frame they are used for."""
    labels = LabelStore(store)
    match = labels.read_matches().matches[match_id]
    raw = interpolate_keyframes(labels.read_keyframes(match_id))
    video = VideoInfo(match.n_frames, match.width, match.height, float(match.fps))
    cleaned = clean_match(match_id, raw, read_mot_detections(labels.detections_file(match_id)), video).cleaned_tracks
    return {"raw": raw.drop(columns="is_keyframe"), "cleaned": cleaned.drop(columns="match_id")}


def samples(store: Path, matches: list[str], which: str, val: str) -> Iterator[DatasetSample]:
    for match_id in matches:
        boxes = label_sets(store, match_id)[which] if match_id != val else _truth(store, match_id)
        for frame, image in decode_every_nth_frame(store / "videos" / f"{match_id}.mp4", EVERY):
            rows = boxes[boxes["frame"] == frame][["track_id", "role", "x", "y", "w", "h"]]
            split = "val" if match_id == val else "train"
            yield DatasetSample(match_id=match_id, frame=frame, split=split, image=image, boxes=rows)


def _truth(store: Path, match_id: str) -> pd.DataFrame:
    return pd.read_csv(store / "_truth" / match_id / "boxes.csv")


def clip_images(store: Path, match_id: str, frames: list[int]) -> list[np.ndarray]:
    wanted = set(frames)
    return [
        image for frame, image in decode_every_nth_frame(store / "videos" / f"{match_id}.mp4", 1) if frame in wanted
    ]


def run_seed(seed: int, minutes: float, work: Path) -> dict[str, float]:
    store = work / f"store-{seed}"
    matches = generate_store(store, SynthConfig(n_matches=6, seconds=20, seed=seed))
    val = matches[-1]
    truth = _truth(store, val)
    frames = CLIP.frames(int(truth["frame"].max()))
    images = clip_images(store, val, frames)
    gt = truth[truth["frame"].isin(frames) & truth["role"].isin(CLIP.roles)].rename(columns={"track_id": "id"})
    errors = {}
    for which in ("raw", "cleaned"):
        root = write_dataset_folder(work / f"dataset-{seed}-{which}", samples(store, matches, which, val))
        result = train(root, TrainConfig(max_minutes=minutes, seed=seed, num_threads=1), log=lambda _: None)
        tracks = track_clip(result.model, frames, images, CLIP)
        metrics = evaluate_sequence(gt[["frame", "id", "x", "y", "w", "h"]], tracks.rename(columns={"track_id": "id"}))
        errors[which] = weighted_error(metrics)
        errors[f"{which}_hota"] = metrics.hota
        errors[f"{which}_player_ap50"] = (result.val_metrics or {}).get("player_ap50", float("nan"))
    return errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--train-minutes", type=float, default=3.0)
    args = parser.parse_args()
    reductions = []
    with tempfile.TemporaryDirectory(prefix="cvops-cleaning-value-") as tmp:
        for seed in args.seeds:
            e = run_seed(seed, args.train_minutes, Path(tmp))
            reduction = 1.0 - e["cleaned"] / e["raw"] if e["raw"] else float("nan")
            reductions.append(reduction)
            print(
                f"seed {seed}: weighted error raw {e['raw']:.4f} (HOTA {e['raw_hota']:.3f}, AP50 "
                f"{e['raw_player_ap50']:.3f}) vs cleaned {e['cleaned']:.4f} (HOTA {e['cleaned_hota']:.3f}, AP50 "
                f"{e['cleaned_player_ap50']:.3f}): {reduction:+.1%} lower with cleaning",
                flush=True,
            )
    print(f"mean reduction of the weighted error with cleaned labels: {np.mean(reductions):+.1%}")


if __name__ == "__main__":
    main()
