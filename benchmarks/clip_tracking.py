"""How the benchmark's tracking choices change a trained model's scores on held-out synthetic matches.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/clip_tracking.py --seed 0 --epochs 6

Trains one model on the true boxes of a synthetic league (``--train`` matches of 20 s, every 5th frame, the first
``--held-out`` matches after them as val and test), then detects once on the held-out matches' clips (every 2nd
frame, as the benchmark) and tracks those detections several ways, scoring each against the truth:

* ``every video frame``: the tracker stepped through the frames between the clip's frames too (what
  ``track_sequence`` did before it took the clip's frames);
* ``clip frames, one class per track``: ``TrackerConfig.at_operating_point`` of the model's threshold;
* ``clip frames, roles as one kind``: FairMOT's first stage (appearance first), BoT-SORT's (IoU, appearance
  only between overlapping boxes: ``benchmark_tracker``), and BoT-SORT's without embeddings (IoU only);
* ``detections alone``: every detection above the operating point as its own track: the detector's FN and FP,
  with which no tracker can do better (its ID switches mean nothing).
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

import numpy as np
from synthetic_league import HeldOutClip, training_samples

from cvops.benchmark.scoring import benchmark_tracker
from cvops.metrics import SequenceMetrics, combine, evaluate_sequence, weighted_error
from cvops.model import TrainConfig, train
from cvops.model.dataset_folder import write_dataset_folder
from cvops.synth import SynthConfig, generate_store
from cvops.tracking import TrackerConfig, track_sequence


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--train", type=int, default=5, help="training matches")
    parser.add_argument("--held-out", type=int, default=1, help="held-out matches (val and test)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each synthetic match")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cvops-clip-tracking-") as tmp:
        store = Path(tmp) / "store"
        matches = generate_store(
            store, SynthConfig(n_matches=args.train + args.held_out, seconds=args.seconds, seed=args.seed)
        )
        train_matches, held_out = matches[: args.train], matches[args.train :]
        root = write_dataset_folder(Path(tmp) / "dataset", training_samples(store, train_matches, "truth", held_out))
        result = train(root, TrainConfig(epochs=args.epochs, seed=args.seed, num_threads=1), log=lambda _: None)
        threshold = (result.val_metrics or {}).get("track_score_threshold")
        clips = [HeldOutClip.read(store, match_id) for match_id in held_out]
        detections = [clip.detections(result.model) for clip in clips]

    print(f"seed {args.seed}, {args.epochs} epochs, operating point {threshold:.3f}, held out {', '.join(held_out)}")
    print("| tracking | weighted error | FN / GT | FP / GT | ID switches | HOTA |")
    print("|---|---|---|---|---|---|")
    pairs = list(zip(clips, detections, strict=True))

    def tracked(tracker: TrackerConfig, embeddings: bool = True) -> SequenceMetrics:
        """The held-out clips' detections tracked through the clip's frames, scored together."""
        return combine(c.score(d if embeddings else d.drop(columns="embedding"), tracker) for c, d in pairs)

    strict = TrackerConfig.at_operating_point(threshold)
    benchmark = benchmark_tracker(threshold)
    every_frame = combine(
        evaluate_sequence(c.truth, track_sequence(d, strict).rename(columns={"track_id": "id"})) for c, d in pairs
    )
    rows: list[tuple[str, SequenceMetrics]] = [
        ("every video frame", every_frame),
        ("clip frames, one class per track", tracked(strict)),
        (
            "clip frames, roles as one kind, FairMOT first stage",
            tracked(dataclasses.replace(benchmark, first_stage="fairmot")),
        ),
        ("clip frames, roles as one kind, BoT-SORT first stage (the benchmark's)", tracked(benchmark)),
        ("... without embeddings (IoU only)", tracked(benchmark, embeddings=False)),
    ]
    alone = []
    for clip, found in pairs:
        kept = found[found["conf"] >= threshold]
        alone.append(
            evaluate_sequence(clip.truth, kept.assign(id=np.arange(len(kept)))[["frame", "id", "x", "y", "w", "h"]])
        )
    rows.append(("detections alone (no tracker)", combine(alone)))
    for name, m in rows:
        n = max(1, m.num_gt_dets)
        if name.startswith("detections alone"):
            print(f"| {name} | - | {m.fn / n:.3f} | {m.fp / n:.3f} | - | - |")
        else:
            error = weighted_error(m)
            print(f"| {name} | {error:.3f} | {m.fn / n:.3f} | {m.fp / n:.3f} | {m.id_switches} | {m.hota:.3f} |")


if __name__ == "__main__":
    main()
