"""The return on data: one synthetic league, dataset versions that add matches in waves, a model per version
trained from scratch at equal epochs, each scored on the same held-out matches.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/data_return.py --waves 2 4 8 16 --epochs 10 --seconds 10
    .venv/bin/python benchmarks/data_return.py --waves 1 2 --epochs 1 --seconds 2     # tiny: a smoke test

The league has ``max(waves) + 1 + held_out`` matches of ``--seconds`` each: version ``k`` trains on the first
``waves[k]`` (every 5th frame, true boxes), the next match is every version's validation match (it picks each
model's operating point), and the last ``--held-out`` matches are the fixed test set, tracked as the benchmark
tracks (BoT-SORT first stage at the model's operating point, every 2nd frame) and scored against the truth.
Prints one markdown row per version: training matches and images, time, throughput, validation player AP50,
and the weighted error ((FN + FP + 5 IDSW) / ground-truth boxes, the leaderboard's) and HOTA on the test set.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from synthetic_league import HeldOutClip, score_held_out, training_samples

from cvops.metrics import weighted_error
from cvops.model import TrainConfig, train
from cvops.model.dataset_folder import write_dataset_folder
from cvops.model.schema import read_manifest
from cvops.synth import SynthConfig, generate_store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--waves", type=int, nargs="+", default=[2, 4, 8, 16], help="training matches per version")
    parser.add_argument("--epochs", type=int, default=10, help="epochs of every model (equal budgets)")
    parser.add_argument("--batch-size", type=int, default=8, help="small batches give the smallest version steps")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each synthetic match")
    parser.add_argument("--held-out", type=int, default=2, help="test matches (fixed for every version)")
    parser.add_argument("--seed", type=int, default=0, help="league seed (training seeds are this too)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 on a shared 2-core machine)")
    args = parser.parse_args()
    if sorted(args.waves) != args.waves or args.waves[0] < 1:
        parser.error("--waves must be increasing counts of at least 1 match")

    n_train = args.waves[-1]
    with tempfile.TemporaryDirectory(prefix="cvops-data-return-") as tmp:
        store = Path(tmp) / "store"
        config = SynthConfig(n_matches=n_train + 1 + args.held_out, seconds=args.seconds, seed=args.seed)
        matches = generate_store(store, config)
        val, held_out = matches[n_train], matches[n_train + 1 :]
        clips = [HeldOutClip.read(store, match_id) for match_id in held_out]
        print(
            f"league seed {args.seed}: {len(matches)} matches of {args.seconds:g} s; val {val}, "
            f"test {', '.join(held_out)}; {args.epochs} epochs per model, {args.threads} torch thread(s)"
        )
        print(
            "| training matches | training images | train s | images/s | val player AP50 | test weighted error "
            "| test HOTA | FN / GT | FP / GT | ID switches |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        for wave in args.waves:
            root = write_dataset_folder(Path(tmp) / f"v{wave}", training_samples(store, matches[:wave], "truth", [val]))
            train_config = TrainConfig(
                epochs=args.epochs,
                batch_size=args.batch_size,
                seed=args.seed,
                num_threads=args.threads,
                log_every_steps=0,
                start_from="scratch",
            )
            result = train(root, train_config, log=lambda _: None)
            val_metrics = result.val_metrics or {}
            metrics = score_held_out(result.model, clips, val_metrics.get("track_score_threshold"))
            gt = max(1, metrics.num_gt_dets)
            print(
                f"| {wave} | {len(read_manifest(root, 'train'))} | {result.seconds:.0f} | "
                f"{result.images_per_second:.1f} | {val_metrics.get('player_ap50', float('nan')):.3f} | "
                f"{weighted_error(metrics):.3f} | {metrics.hota:.3f} | {metrics.fn / gt:.3f} | {metrics.fp / gt:.3f} "
                f"| {metrics.id_switches} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
