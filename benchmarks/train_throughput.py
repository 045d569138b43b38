"""Training throughput of the detection + re-ID model, and what a training budget buys.

Throughput (default): images/s per input size, batch size and DataLoader worker count, with a step-time
breakdown that shows whether the loader is the bottleneck. Per configuration, after ``--warmup`` untimed steps,
``--steps`` steps are timed for each of:

* ``load``: fetching batches from the DataLoader alone (JPEG decode + augmentation + targets + collate);
* ``fwd``: forward pass + loss on one resident batch; ``bwd+opt``: the rest of a step (backward, clipping, AdamW);
* ``end-to-end``: the real loop (the loader feeding steps), and the share of it spent waiting for data.

Each figure is the median of ``--repeats`` such measurements, since a shared machine's load swings.

Budgeted training (``--train-epochs 4,8``): a full :func:`cvops.model.train` run per epoch budget on the dataset,
printing time, images/s and val AP50 per class.

Without ``--dataset``, a dataset is built first from the synthetic generator (``--synth-matches`` matches of
``--synth-seconds`` at 640x360, every 5th frame, the last match as val; the issue's target setting is 6 x 20 s).

Usage::

    .venv/bin/python benchmarks/train_throughput.py --threads 1
    .venv/bin/python benchmarks/train_throughput.py --dataset DIR --batch-sizes 8,16 --input-sizes 384x224
    .venv/bin/python benchmarks/train_throughput.py --synth-matches 6 --synth-seconds 20 --train-epochs 4,8
    .venv/bin/python benchmarks/train_throughput.py --device cuda --batch-sizes 32,64   # AMP + channels-last
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import torch

from cvops.model.device import resolve_device
from cvops.model.targets import BatchTargets
from cvops.model.train import TrainConfig, Trainer, train


def build_synthetic_dataset(folder: Path, matches: int, seconds: float) -> Path:
    """A dataset folder from the synthetic generator (640x360 broadcast frames), every 5th frame, one val match."""
    from cvops.model.dataset_folder import dataset_from_synth_store
    from cvops.synth import SynthConfig, generate_store

    store = folder / "store"
    generate_store(store, SynthConfig(n_matches=matches, seconds=seconds))
    return dataset_from_synth_store(store, folder / "dataset", every=5, val_matches=1)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def endless(loader: torch.utils.data.DataLoader) -> Iterator[tuple[torch.Tensor, BatchTargets]]:
    while True:
        yield from loader


def measure_throughput(root: Path, config: TrainConfig, steps: int, warmup: int) -> dict[str, float]:
    settings = resolve_device(config.device)
    trainer = Trainer(root, config, settings, log=lambda _: None)
    device = settings.device
    batches = endless(trainer.loader)
    for _ in range(warmup):
        images, targets = next(batches)
        trainer.step(images, targets, config.lr)

    start = time.perf_counter()
    for _ in range(steps):
        next(batches)
    load = (time.perf_counter() - start) / steps

    images, targets = next(batches)
    images = images.to(device, memory_format=settings.memory_format)
    targets = targets.to(device)
    forward = step = 0.0
    for _ in range(steps):
        synchronize(device)
        start = time.perf_counter()
        with settings.autocast():
            outputs = trainer.model(images)
            embeddings = trainer.model.embed(outputs["embedding_features"], targets.index)
        trainer.loss(outputs, embeddings, targets)  # the loss syncs (it returns floats)
        forward += time.perf_counter() - start
        del outputs, embeddings
        start = time.perf_counter()
        trainer.step(images, targets, config.lr)
        synchronize(device)
        step += time.perf_counter() - start
    forward, step = forward / steps, step / steps

    waiting = 0.0
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        fetch = time.perf_counter()
        images, targets = next(batches)
        waiting += time.perf_counter() - fetch
        trainer.step(images, targets, config.lr)
    synchronize(device)
    end_to_end = time.perf_counter() - start
    return {
        "load_ms": 1000 * load,
        "fwd_ms": 1000 * forward,
        "bwd_opt_ms": 1000 * (step - forward),
        "load_img_s": config.batch_size / load,
        "compute_img_s": config.batch_size / step,
        "e2e_img_s": steps * config.batch_size / end_to_end,
        "wait_share": waiting / end_to_end,
    }


def throughput_table(root: Path, args: argparse.Namespace) -> None:
    print(
        "| input | batch | workers | load ms/batch | fwd ms | bwd+opt ms | loader img/s | compute img/s "
        "| end-to-end img/s | waiting for data |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for size in args.input_sizes.split(","):
        width, height = (int(v) for v in size.split("x"))
        for batch in (int(v) for v in args.batch_sizes.split(",")):
            for workers in (int(v) for v in args.workers.split(",")):
                config = replace(
                    TrainConfig(),
                    input_size=(width, height),
                    batch_size=batch,
                    num_workers=workers,
                    device=args.device,
                    evaluate_split=None,
                )
                runs = [measure_throughput(root, config, args.steps, args.warmup) for _ in range(args.repeats)]
                r = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
                print(
                    f"| {width}x{height} | {batch} | {workers} | {r['load_ms']:.0f} | {r['fwd_ms']:.0f} "
                    f"| {r['bwd_opt_ms']:.0f} | {r['load_img_s']:.0f} | {r['compute_img_s']:.1f} "
                    f"| {r['e2e_img_s']:.1f} | {100 * r['wait_share']:.0f}% |",
                    flush=True,
                )


def budget_table(root: Path, args: argparse.Namespace) -> None:
    print("| input | epochs | train s | img/s | player | goalkeeper | referee | ball | eval s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for epochs in (int(v) for v in args.train_epochs.split(",")):
        for size in args.input_sizes.split(","):
            width, height = (int(v) for v in size.split("x"))
            config = TrainConfig(
                epochs=epochs,
                batch_size=int(args.batch_sizes.split(",")[0]),
                input_size=(width, height),
                device=args.device,
                num_threads=args.threads,
                log_every_steps=0,
            )
            result = train(root, config, log=lambda _: None)
            ap = result.val_metrics["ap50"] if result.val_metrics else {}
            cells = " | ".join(f"{ap[name]:.3f}" if ap.get(name) is not None else "-" for name in ap)
            print(
                f"| {width}x{height} | {result.epochs_completed} | {result.seconds:.0f} "
                f"| {result.images_per_second:.1f} | {cells} | {result.evaluation_seconds:.0f} |",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, help="a dataset folder; default: build a synthetic one")
    parser.add_argument("--synth-matches", type=int, default=3)
    parser.add_argument("--synth-seconds", type=float, default=4.0)
    parser.add_argument("--batch-sizes", default="8,16")
    parser.add_argument("--input-sizes", default="320x192,384x224,512x288")
    parser.add_argument("--workers", default="0", help="DataLoader worker counts to compare, e.g. 0,1")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3, help="median of this many measurements (shared CPUs)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--train-epochs", help="instead of throughput: training runs of these epochs, e.g. 4,8")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as scratch:
        root = args.dataset or build_synthetic_dataset(Path(scratch), args.synth_matches, args.synth_seconds)
        settings = resolve_device(args.device)
        print(
            f"device {settings.device} (amp {settings.amp_dtype}, channels_last {settings.channels_last}), "
            f"torch threads {torch.get_num_threads()}, {torch.get_num_interop_threads()} interop, dataset {root}"
        )
        if args.train_epochs:
            budget_table(root, args)
        else:
            throughput_table(root, args)


if __name__ == "__main__":
    main()
