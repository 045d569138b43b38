"""Training from scratch on a dataset version, within an epoch count and an optional wall-clock budget.

The learning rate follows a linear warm-up then a cosine decay over *progress*, where progress is the
larger of the step fraction and the elapsed fraction of ``max_minutes``. So a run that will be cut by its
time budget still anneals to a low learning rate before it stops instead of ending mid-schedule at a high
one (which costs a lot of accuracy for short runs). Without a time budget, a CPU run is fully reproducible
from its seed.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cvops.errors import InputError
from cvops.model.checkpoint import save_checkpoint
from cvops.model.data import AugmentConfig, DetectionDataset, make_loader
from cvops.model.detection_metrics import evaluate_detection
from cvops.model.device import DeviceSettings, deterministic, resolve_device
from cvops.model.identities import IdentityMap
from cvops.model.losses import FairMOTLoss, LossWeights
from cvops.model.network import CenterTrackNet, ModelConfig
from cvops.model.schema import manifest_path, read_manifest
from cvops.model.targets import BatchTargets


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on (stored in the checkpoint). The defaults are the configuration
    measured in docs/benchmarks.md; ``max_minutes`` and ``num_threads`` are the knobs for a CPU budget."""

    epochs: int = 30
    batch_size: int = 16
    input_size: tuple[int, int] = (384, 224)
    """Network input (width, height), multiples of 32; frames are letterboxed into it (640x360 at scale 0.6)."""
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    num_workers: int = 0
    """DataLoader worker processes; 0 loads in the training process (on 2 shared cores, one worker was slower:
    docs/benchmarks.md); on a GPU machine with spare cores, use several."""
    max_minutes: float | None = None
    """Wall-clock budget for the training loop (evaluation excluded); ``None``: epochs only."""
    device: str = "auto"
    num_threads: int | None = None
    """Torch intra-op threads for the run (restored afterwards); ``None`` keeps torch's setting. On a CPU
    shared with other jobs, 1 can be several times faster than oversubscribed cores (see docs/model.md)."""
    warmup_steps: int = 30
    min_lr_fraction: float = 0.02
    grad_clip_norm: float | None = 10.0
    augment: AugmentConfig | None = field(default_factory=AugmentConfig)
    embedding_dim: int = 128
    channels: tuple[int, int, int, int] = (16, 32, 64, 128)
    head_channels: int = 24
    loss_weights: LossWeights = field(default_factory=LossWeights)
    uncertainty_weighting: bool = True
    evaluate_split: str | None = "val"
    """Split to compute AP50 on after training (skipped when absent or empty); ``None``: no evaluation."""
    eval_conf_threshold: float = 0.01
    log_every_steps: int = 25

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be at least 1")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise ValueError("max_minutes must be positive (or None for no budget)")

    def model_config(self) -> ModelConfig:
        return ModelConfig(
            input_size=self.input_size,
            embedding_dim=self.embedding_dim,
            channels=self.channels,
            head_channels=self.head_channels,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainResult:
    model: CenterTrackNet
    identity_map: IdentityMap
    config: TrainConfig
    loss_history: list[dict[str, float]]
    """Per epoch: mean loss components over its steps, plus ``epoch``, ``lr`` (last) and ``seconds``
    (cumulative)."""
    seconds: float
    """Wall time of the training loop (data loading included, evaluation excluded)."""
    images_seen: int
    images_per_second: float
    device: str
    epochs_completed: int
    stopped_by_time_budget: bool
    val_metrics: dict[str, Any] | None
    evaluation_seconds: float
    loss: FairMOTLoss

    def save(self, path: Path) -> Path:
        """Checkpoint the model with its identity map, training config and metrics."""
        return save_checkpoint(
            path,
            self.model,
            self.identity_map,
            train_config=self.config.to_dict(),
            metrics=self.metrics(),
            loss=self.loss,
        )

    def metrics(self) -> dict[str, Any]:
        final = self.loss_history[-1] if self.loss_history else {}
        return {
            "val": self.val_metrics,
            "train_seconds": round(self.seconds, 3),
            "images_per_second": round(self.images_per_second, 3),
            "epochs_completed": self.epochs_completed,
            "stopped_by_time_budget": self.stopped_by_time_budget,
            "final_loss": final,
            "device": self.device,
        }


@dataclass(frozen=True)
class CosineSchedule:
    """Linear warm-up over steps, then cosine decay over progress (see the module docstring)."""

    base_lr: float
    warmup_steps: int
    total_steps: int
    budget_seconds: float | None
    min_fraction: float

    def progress(self, step: int, elapsed: float) -> float:
        by_steps = step / max(1, self.total_steps)
        by_time = elapsed / self.budget_seconds if self.budget_seconds else 0.0
        return max(by_steps, by_time)

    def lr(self, step: int, elapsed: float) -> float:
        # Short runs (tests, tiny datasets) must not spend their whole schedule warming up.
        warmup_steps = max(1, min(self.warmup_steps, self.total_steps // 5))
        warmup = min(1.0, (step + 1) / warmup_steps)
        cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, self.progress(step, elapsed))))
        return self.base_lr * warmup * (self.min_fraction + (1 - self.min_fraction) * cosine)


def parameter_groups(*modules: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on convolution and linear weights only (not biases, norms or the loss's log-variances)."""
    decay, no_decay = [], []
    for module in modules:
        for parameter in module.parameters():
            (decay if parameter.ndim > 1 else no_decay).append(parameter)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _has_split(root: Path, split: str | None) -> bool:
    return split is not None and not read_manifest(root, split).empty


class Trainer:
    """One training run: dataset, model, loss, optimizer, loader and schedule (:func:`train` runs it; the
    throughput benchmark times its :meth:`step`)."""

    def __init__(self, root: Path, config: TrainConfig, settings: DeviceSettings, log: Callable[[str], None]):
        self.root, self.config, self.settings, self.log = root, config, settings, log
        self.dataset = DetectionDataset(root, "train", config.input_size, augment=config.augment)
        if len(self.dataset) == 0:
            raise InputError("the dataset has no train samples", file=manifest_path(root), field="split")
        self.identity_map = self.dataset.identity_map
        self.model = CenterTrackNet(config.model_config()).to(settings.device, memory_format=settings.memory_format)
        self.loss = FairMOTLoss(
            len(self.identity_map), config.embedding_dim, config.loss_weights, config.uncertainty_weighting
        ).to(settings.device)
        self.optimizer = torch.optim.AdamW(parameter_groups(self.model, self.loss, weight_decay=config.weight_decay))
        self.scaler = torch.amp.GradScaler(settings.device.type, enabled=settings.needs_grad_scaler)
        self.loader = make_loader(
            self.dataset,
            config.batch_size,
            shuffle=True,
            num_workers=config.num_workers,
            seed=config.seed,
            pin_memory=settings.device.type == "cuda",
        )
        budget = config.max_minutes * 60 if config.max_minutes is not None else None
        self.schedule = CosineSchedule(
            config.lr, config.warmup_steps, config.epochs * len(self.loader), budget, config.min_lr_fraction
        )

    def step(self, images: torch.Tensor, targets: BatchTargets, lr: float) -> dict[str, float]:
        """One optimisation step on a batch at learning rate ``lr``; returns the loss components."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        images = images.to(self.settings.device, non_blocking=True, memory_format=self.settings.memory_format)
        targets = targets.to(self.settings.device)
        with self.settings.autocast():
            outputs = self.model(images)
            embeddings = self.model.embed(outputs["embedding_features"], targets.index)
        total, stats = self.loss(outputs, embeddings, targets)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        if self.config.grad_clip_norm is not None:
            self.scaler.unscale_(self.optimizer)
            parameters = [p for group in self.optimizer.param_groups for p in group["params"]]
            torch.nn.utils.clip_grad_norm_(parameters, self.config.grad_clip_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return stats

    def run(self) -> TrainResult:
        config = self.config
        self.log(
            f"training on {self.settings.device}: {len(self.dataset)} images, "
            f"{len(self.identity_map)} identities, input {config.input_size[0]}x{config.input_size[1]}, "
            f"batch {config.batch_size}, {config.epochs} epochs, budget {config.max_minutes or 'none'} min"
        )
        self.model.train()
        history: list[dict[str, float]] = []
        step = images_seen = epochs_completed = 0
        stopped = False
        start = time.perf_counter()
        for epoch in range(config.epochs):
            sums: dict[str, float] = defaultdict(float)
            batches, lr = 0, 0.0
            for images, targets in self.loader:
                elapsed = time.perf_counter() - start
                if self.schedule.budget_seconds is not None and elapsed >= self.schedule.budget_seconds:
                    stopped = True
                    break
                lr = self.schedule.lr(step, elapsed)
                stats = self.step(images, targets, lr)
                for name, value in stats.items():
                    sums[name] += value
                step += 1
                batches += 1
                images_seen += images.shape[0]
                if config.log_every_steps and step % config.log_every_steps == 0:
                    rate = images_seen / (time.perf_counter() - start)
                    progress = f"epoch {epoch + 1} step {step}: {_format_stats(stats)}"
                    self.log(f"{progress} lr {lr:.2e} ({rate:.1f} img/s)")
            if batches:
                history.append(self._epoch_summary(epoch, sums, batches, lr, start))
            if stopped:
                break
            epochs_completed += 1
        seconds = time.perf_counter() - start
        self.model.eval()
        val_metrics, evaluation_seconds = self._evaluate()
        return TrainResult(
            model=self.model,
            identity_map=self.identity_map,
            config=config,
            loss_history=history,
            seconds=seconds,
            images_seen=images_seen,
            images_per_second=images_seen / seconds if seconds > 0 else 0.0,
            device=str(self.settings.device),
            epochs_completed=epochs_completed,
            stopped_by_time_budget=stopped,
            val_metrics=val_metrics,
            evaluation_seconds=evaluation_seconds,
            loss=self.loss,
        )

    def _epoch_summary(
        self, epoch: int, sums: dict[str, float], batches: int, lr: float, start: float
    ) -> dict[str, float]:
        summary = {name: value / max(1, batches) for name, value in sums.items()}
        summary.update(epoch=epoch + 1, lr=lr, seconds=time.perf_counter() - start)
        self.log(f"epoch {epoch + 1} done: {_format_stats(summary)} ({summary['seconds']:.0f} s)")
        return summary

    def _evaluate(self) -> tuple[dict[str, Any] | None, float]:
        split = self.config.evaluate_split
        if not _has_split(self.root, split):
            return None, 0.0
        start = time.perf_counter()
        metrics = evaluate_detection(self.model, self.root, split, conf_threshold=self.config.eval_conf_threshold)
        seconds = time.perf_counter() - start
        ap = ", ".join(f"{name} {value:.3f}" for name, value in metrics["ap50"].items() if value is not None)
        self.log(f"{split} AP50: {ap} ({seconds:.0f} s)")
        return metrics, seconds


def _format_stats(stats: dict[str, float]) -> str:
    names = ("total", "heatmap", "size", "offset", "identity")
    return " ".join(f"{name} {stats[name]:.3f}" for name in names if name in stats)


def train(dataset_root: Path, config: TrainConfig, *, log: Callable[[str], None] = print) -> TrainResult:
    """Train a fresh network on the ``train`` split of the dataset version at ``dataset_root``, then
    evaluate it on ``config.evaluate_split``. Never downloads weights."""
    root = Path(dataset_root)
    settings = resolve_device(config.device)
    previous_threads = torch.get_num_threads()
    if config.num_threads is not None:
        torch.set_num_threads(config.num_threads)
    try:
        with deterministic(settings, config.seed):
            return Trainer(root, config, settings, log).run()
    finally:
        torch.set_num_threads(previous_threads)
