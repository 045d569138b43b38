"""Retraining from scratch against a warm start from the previous model, at equal epochs, on the same leagues.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/warm_start.py --seeds 0 1 --epochs 6 --seconds 10
    .venv/bin/python benchmarks/warm_start.py --seeds 0 --epochs 1 --seconds 2 --base 1 --new 1   # tiny

Per league seed, as the demo's loop: a first dataset version of ``--base`` matches on two of the league's three
pitches and a model trained on it from scratch (the "production" model); then a second version that adds
``--new`` matches from the third pitch. On the second version, two models at equal epochs: from scratch, and
from the first model's weights (``train(..., parent=...)``, what the platform does by default). All three are
scored on the same held-out matches, one per pitch, tracked as the benchmark tracks them; the table gives the
weighted error ((FN + FP + 5 IDSW) / ground-truth boxes) and HOTA over all of them and the weighted error on the
new pitch's, plus the training time (wall clock on whatever else the machine ran: compare within a seed).
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path

from synthetic_league import HeldOutClip, score_held_out, training_samples

from cvops.metrics import weighted_error
from cvops.model import TrainConfig, TrainResult, load_checkpoint, train
from cvops.model.dataset_folder import write_dataset_folder
from cvops.model.schema import read_manifest
from cvops.synth import SynthConfig, generate_store
from cvops.synth.league import STADIUMS


@dataclass(frozen=True)
class League:
    store: Path
    base: list[str]
    new: list[str]
    val: list[str]
    test_old: list[str]
    test_new: list[str]


def make_league(folder: Path, seed: int, n_base: int, n_new: int, seconds: float) -> League:
    """Base matches, a val and a test match on two pitches; new matches and a test match on the third."""
    new_pitch = STADIUMS[seed % len(STADIUMS)].pitch
    old_pitches = tuple(s.pitch for s in STADIUMS if s.pitch != new_pitch)
    store = folder / "store"
    old = generate_store(store, SynthConfig(n_matches=n_base + 2, seconds=seconds, seed=seed, pitches=old_pitches))
    new = generate_store(
        store,
        SynthConfig(
            n_matches=n_new + 1, seconds=seconds, seed=seed + 1, first_match_index=n_base + 2, pitches=(new_pitch,)
        ),
    )
    return League(store, old[:n_base], new[:n_new], [old[n_base]], [old[n_base + 1]], [new[n_new]])


def report(seed: int, name: str, root: Path, result: TrainResult, old: list, new: list) -> None:
    """One table row: ``result``'s model on the held-out clips of the old pitches and the new one."""
    threshold = (result.val_metrics or {}).get("track_score_threshold")
    overall = score_held_out(result.model, old + new, threshold)
    on_new = score_held_out(result.model, new, threshold)
    print(
        f"| {seed} | {name} | {root.name} | {len(read_manifest(root, 'train'))} | {result.seconds:.0f} "
        f"| {weighted_error(overall):.3f} | {overall.hota:.3f} | {weighted_error(on_new):.3f} |",
        flush=True,
    )


def run_seed(seed: int, args: argparse.Namespace, tmp: Path) -> None:
    league = make_league(tmp, seed, args.base, args.new, args.seconds)
    old = [HeldOutClip.read(league.store, m) for m in league.test_old]
    new = [HeldOutClip.read(league.store, m) for m in league.test_new]
    config = TrainConfig(
        epochs=args.epochs, batch_size=args.batch_size, seed=seed, num_threads=args.threads, log_every_steps=0
    )
    v1 = write_dataset_folder(tmp / "v1", training_samples(league.store, league.base, "truth", league.val))
    first = train(v1, config, log=lambda _: None)
    report(seed, "first model (scratch)", v1, first, old, new)
    parent = load_checkpoint(first.save(tmp / "first.pt"))
    v2_matches = league.base + league.new
    v2 = write_dataset_folder(tmp / "v2", training_samples(league.store, v2_matches, "truth", league.val))
    report(seed, "retrained from scratch", v2, train(v2, config, log=lambda _: None), old, new)
    warm = train(v2, config, parent=parent, log=lambda _: None)
    report(seed, "retrained from the first model", v2, warm, old, new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="league seeds")
    parser.add_argument("--epochs", type=int, default=6, help="epochs of every model (equal budgets)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each synthetic match")
    parser.add_argument("--base", type=int, default=4, help="matches of the first version (two pitches)")
    parser.add_argument("--new", type=int, default=2, help="matches the second version adds (the third pitch)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 on a shared 2-core machine)")
    parser.add_argument("--batch-size", type=int, default=8, help="small batches give the small versions steps")
    args = parser.parse_args()
    print(
        "| seed | model | trained on | train images | train s | test weighted error | test HOTA "
        "| new pitch weighted error |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for seed in args.seeds:
        with tempfile.TemporaryDirectory(prefix="cvops-warm-start-") as tmp:
            run_seed(seed, args, Path(tmp))


if __name__ == "__main__":
    main()
