"""What the cleaning is worth: the same training run on raw labels, on cleaned labels and on the truth.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/cleaning_value.py --seeds 0 1 2 3 --jobs 2 [--defects heavy]

For each seed, a synthetic league of ``--train`` + ``--held-out`` matches of 20 s. Every arm trains on the same
frames of the training matches (every 5th) for the same number of epochs with the same seed, so each sees the
same images in the same order and does the same work; the arms differ only in their boxes (``synthetic_league``):
``raw`` (ghosts kept, offsets ignored), ``cleaned`` (``clean_match`` with ``det.txt``) and ``truth`` (the ceiling:
no cleaning can do better). Epochs, not a wall-clock budget: on a shared machine two runs of one budget take
different numbers of steps.

Each model picks its operating point on the held-out matches' every 5th frame (as the platform does on its val
split), then tracks every 2nd frame of each held-out match as the benchmark does (``benchmark_tracker``) and is
scored against the synthetic truth with the platform's weighted error ((FN + FP + 5 IDSW) / ground-truth boxes),
the held-out matches combined. Prints one line per seed and arm, then per arm the mean error, the mean and
standard error over seeds of its reduction against raw, on how many seeds it beat raw, and the reduction of the
error summed over all seeds. ``--jobs`` runs that many seeds at once in separate processes (one torch thread
each); a seed's results do not depend on it.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from synthetic_league import LABEL_SETS, HeldOutClip, training_samples

from cvops.benchmark.scoring import benchmark_tracker
from cvops.metrics import SequenceMetrics, combine, weighted_error
from cvops.model import TrainConfig, train
from cvops.model.dataset_folder import write_dataset_folder
from cvops.synth import SynthConfig, generate_store

# The generator's defaults, and a stress profile: every match but the first out of sync by up to 5 frames
# (0.2 s at 25 fps, the cleaning's search range), and 2-4 players per match off the pitch for 4-8 s; and each half
# of the stress profile alone, to tell which defect costs what.
HEAVY_SYNC = {"shifted_share": 0.9, "max_sync_offset": 5}
HEAVY_GHOSTS = {"ghosts_per_match": (2, 4), "ghost_off_seconds": (4.0, 8.0)}
DEFECTS = {
    "default": {},
    "heavy": HEAVY_SYNC | HEAVY_GHOSTS,
    "heavy-sync": HEAVY_SYNC,
    "heavy-ghosts": HEAVY_GHOSTS,
}


@dataclass(frozen=True)
class ArmResult:
    metrics: SequenceMetrics
    val_player_ap50: float

    @property
    def error(self) -> float:
        return weighted_error(self.metrics)

    def line(self) -> str:
        m, n = self.metrics, max(1, self.metrics.num_gt_dets)
        return (
            f"weighted error {self.error:.4f} = FN {m.fn / n:.4f} + FP {m.fp / n:.4f} + 5 IDSW "
            f"{5 * m.id_switches / n:.4f} (HOTA {m.hota:.3f}, val player AP50 {self.val_player_ap50:.3f})"
        )


def run_seed(seed: int, arms: list[str], args: argparse.Namespace, work: Path) -> dict[str, ArmResult]:
    """Train one model per arm on one synthetic league and score it on the league's held-out matches."""
    store = work / f"store-{seed}"
    config = SynthConfig(n_matches=args.train + args.held_out, seconds=args.seconds, seed=seed, **DEFECTS[args.defects])
    matches = generate_store(store, config)
    train_matches, held_out = matches[: args.train], matches[args.train :]
    clips = [HeldOutClip.read(store, match_id) for match_id in held_out]
    results = {}
    for arm in arms:
        samples = training_samples(store, train_matches, arm, held_out)
        root = write_dataset_folder(work / f"dataset-{seed}-{arm}", samples)
        result = train(root, TrainConfig(epochs=args.epochs, seed=seed, num_threads=1), log=lambda _: None)
        val = result.val_metrics or {}
        tracker = benchmark_tracker(val.get("track_score_threshold"))
        metrics = combine(clip.score(clip.detections(result.model), tracker) for clip in clips)
        results[arm] = ArmResult(metrics, float(val.get("player_ap50") or float("nan")))
    return results


def summarise(per_seed: dict[int, dict[str, ArmResult]], arms: list[str]) -> None:
    for arm in arms:
        errors = [results[arm].error for results in per_seed.values()]
        line = f"{arm:>7}: mean weighted error {statistics.fmean(errors):.4f}"
        if arm != "raw":
            raw = [results["raw"].error for results in per_seed.values()]
            reductions = [1.0 - e / r for e, r in zip(errors, raw, strict=True)]
            spread = statistics.stdev(reductions) / len(reductions) ** 0.5 if len(reductions) > 1 else float("nan")
            wins = sum(e < r for e, r in zip(errors, raw, strict=True))
            line += (
                f"; lower than raw by {statistics.fmean(reductions):+.1%} (standard error {spread:.1%}) on average, "
                f"on {wins} of {len(errors)} seeds; summed over seeds {1.0 - sum(errors) / sum(raw):+.1%}"
            )
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--epochs", type=int, default=16)
    parser.add_argument("--train", type=int, default=5, help="training matches per league")
    parser.add_argument("--held-out", type=int, default=2, help="held-out matches per league (val and test)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each synthetic match")
    parser.add_argument("--arms", nargs="+", choices=LABEL_SETS, default=list(LABEL_SETS))
    parser.add_argument("--defects", choices=sorted(DEFECTS), default="default", help="label defect profile")
    parser.add_argument("--jobs", type=int, default=1, help="seeds run at once, each in its own process")
    args = parser.parse_args()
    arms = ["raw", *(arm for arm in args.arms if arm != "raw")]
    per_seed: dict[int, dict[str, ArmResult]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="cvops-cleaning-value-") as tmp,
        ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool,
    ):
        futures = {pool.submit(run_seed, seed, arms, args, Path(tmp)): seed for seed in args.seeds}
        for future in as_completed(futures):
            seed = futures[future]
            per_seed[seed] = future.result()
            for arm, result in per_seed[seed].items():
                print(f"seed {seed} {arm:>7}: {result.line()}", flush=True)
    summarise(dict(sorted(per_seed.items())), arms)


if __name__ == "__main__":
    main()
