"""Training on a dataset version for a number of epochs, from scratch or from a parent model's weights.

The budget is the epoch count: the learning rate follows a linear warm-up then a cosine decay over the run's
steps, so a seeded CPU run is reproducible whatever the machine's load, and a run on a busy machine takes longer
instead of ending with a worse model. ``max_minutes`` is only a safety net against a run that would never end:
a run it stops has not finished its training, and :mod:`cvops.model.release` refuses to register it.

Warm start (``parent``): the network starts from a parent model's weights (the production model, when the
platform retrains), and the identity classifier keeps the rows of the identities both datasets share, so
retraining on a new dataset version refines what the parent learnt instead of starting over.
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

from cvops.cpu import TrainingThreads, step_cpus
from cvops.errors import InputError
from cvops.model.checkpoint import Checkpoint, save_checkpoint
from cvops.model.data import AugmentConfig, DetectionDataset, make_loader
from cvops.model.detection_metrics import evaluate_detection
from cvops.model.device import DeviceSettings, deterministic, resolve_device
from cvops.model.identities import IdentityMap
from cvops.model.losses import FairMOTLoss, LossWeights
from cvops.model.network import CenterTrackNet, ModelConfig
from cvops.model.schema import manifest_path, read_manifest
from cvops.model.targets import BatchTargets

START_FROM = ("production", "scratch")


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on (stored in the checkpoint). The defaults are the configuration
    measured in docs/benchmarks.md; the budget is ``epochs``, ``max_minutes`` only a safety net."""

    epochs: int = 30
    """The training budget: passes over the train split. The learning-rate schedule spans them, so the same
    seed and epochs give the same model on a fast or a busy machine."""
    batch_size: int = 16
    input_size: tuple[int, int] = (384, 224)
    """Network input (width, height), multiples of 32; frames are letterboxed into it (640x360 at scale 0.6)."""
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    num_workers: int | None = None
    """DataLoader worker processes; ``None``: from the step's share of the CPU (``cvops.cpu.TrainingThreads``:
    none below 4 cores on a CPU, all cores but one, up to 8, on a GPU). Batches are the same either way."""
    max_minutes: float | None = None
    """Safety net: stop the training loop after this many minutes (evaluation excluded); a run stopped by it
    has not finished its epochs and is not registered. ``None``: no limit."""
    device: str = "auto"
    num_threads: int | None = None
    """Torch intra-op threads for the run (restored afterwards); ``None``: the step's share of the CPU that
    the executor gave it (``$CVOPS_STEP_CPUS``, else every available core) less its loader workers."""
    start_from: str = "production"
    """``production``: start from the weights of the model in production, when there is one (the platform
    passes them; the model card names the parent); ``scratch``: random initial weights."""
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
            raise ValueError("max_minutes must be positive (or None for no limit)")
        if self.start_from not in START_FROM:
            raise ValueError(f"start_from must be one of {START_FROM}, got {self.start_from!r}")

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
    """The ``max_minutes`` safety net stopped the run before its last epoch."""
    val_metrics: dict[str, Any] | None
    evaluation_seconds: float
    loss: FairMOTLoss
    threads: TrainingThreads
    """The torch threads and loader workers the run used, from the CPU share it was given."""
    warm_start: WarmStart | None = None
    """What was taken from the parent model; ``None``: trained from scratch."""

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
            "torch_threads": self.threads.torch_threads,
            "loader_workers": self.threads.loader_workers,
            "warm_start": asdict(self.warm_start) if self.warm_start else None,
        }


@dataclass(frozen=True)
class WarmStart:
    """What a warm-started run took from its parent checkpoint."""

    identities_kept: int
    """Rows of the identity classifier carried over: the identities both training sets have."""
    identities_new: int
    """Identities of this training set the parent did not know (their rows start fresh)."""


@dataclass(frozen=True)
class CosineSchedule:
    """Linear warm-up, then cosine decay over the run's steps (never over time: see the module docstring)."""

    base_lr: float
    warmup_steps: int
    total_steps: int
    min_fraction: float

    def lr(self, step: int) -> float:
        # Short runs (tests, tiny datasets) must not spend their whole schedule warming up.
        warmup_steps = max(1, min(self.warmup_steps, self.total_steps // 5))
        warmup = min(1.0, (step + 1) / warmup_steps)
        cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, step / max(1, self.total_steps))))
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


def training_threads(config: TrainConfig, settings: DeviceSettings) -> TrainingThreads:
    """The run's torch threads and loader workers: the config's where it sets them, else the step's CPU share."""
    share = TrainingThreads.split(step_cpus(), on_gpu=settings.device.type == "cuda")
    workers = share.loader_workers if config.num_workers is None else config.num_workers
    threads = share.torch_threads if config.num_threads is None else config.num_threads
    return TrainingThreads(cpus=share.cpus, torch_threads=threads, loader_workers=workers)


def load_parent(model: CenterTrackNet, loss: FairMOTLoss, identity_map: IdentityMap, parent: Checkpoint) -> WarmStart:
    """Copy ``parent``'s network weights into ``model`` and, into ``loss``, its uncertainty weights and the
    classifier rows of the identities ``identity_map`` shares with it (a (match, track) pair is the same player
    in both datasets). The architectures must be equal: a changed architecture trains from scratch."""
    if parent.model.config != model.config:
        raise InputError(
            f"the parent model's architecture {parent.model.config} differs from this run's {model.config}: "
            "train from scratch (start_from='scratch') to change it",
            field="start_from",
        )
    model.load_state_dict(parent.model.state_dict())
    state = parent.loss_state or {}
    kept = 0
    with torch.no_grad():
        for name in ("detection_log_var", "identity_log_var"):
            if name in state:
                getattr(loss, name).copy_(state[name])
        if loss.classifier is not None and "classifier.weight" in state:
            rows = identity_map.lookup(*zip(*parent.identity_map.keys, strict=True)) if len(parent.identity_map) else []
            for old_row, new_row in enumerate(rows):
                if new_row >= 0:
                    loss.classifier.weight[new_row] = state["classifier.weight"][old_row]
                    loss.classifier.bias[new_row] = state["classifier.bias"][old_row]
                    kept += 1
    return WarmStart(identities_kept=kept, identities_new=len(identity_map) - kept)


class Trainer:
    """One training run: dataset, model, loss, optimizer, loader and schedule (:func:`train` runs it; the
    throughput benchmark times its :meth:`step`)."""

    def __init__(
        self,
        root: Path,
        config: TrainConfig,
        settings: DeviceSettings,
        log: Callable[[str], None],
        *,
        threads: TrainingThreads | None = None,
        parent: Checkpoint | None = None,
    ):
        self.root, self.config, self.settings, self.log = root, config, settings, log
        self.threads = threads or training_threads(config, settings)
        self.dataset = DetectionDataset(root, "train", config.input_size, augment=config.augment)
        if len(self.dataset) == 0:
            raise InputError("the dataset has no train samples", file=manifest_path(root), field="split")
        self.identity_map = self.dataset.identity_map
        model = CenterTrackNet(config.model_config())
        self.loss = FairMOTLoss(
            len(self.identity_map), config.embedding_dim, config.loss_weights, config.uncertainty_weighting
        )
        self.warm_start = load_parent(model, self.loss, self.identity_map, parent) if parent is not None else None
        self.model = model.to(settings.device, memory_format=settings.memory_format)
        self.loss = self.loss.to(settings.device)
        self.optimizer = torch.optim.AdamW(parameter_groups(self.model, self.loss, weight_decay=config.weight_decay))
        self.scaler = torch.amp.GradScaler(settings.device.type, enabled=settings.needs_grad_scaler)
        self.loader = make_loader(
            self.dataset,
            config.batch_size,
            shuffle=True,
            num_workers=self.threads.loader_workers,
            seed=config.seed,
            pin_memory=settings.device.type == "cuda",
        )
        self.schedule = CosineSchedule(
            config.lr, config.warmup_steps, config.epochs * len(self.loader), config.min_lr_fraction
        )
        self.time_limit_s = config.max_minutes * 60 if config.max_minutes is not None else None

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
        start = "from scratch"
        if self.warm_start is not None:
            start = (
                f"from the parent's weights ({self.warm_start.identities_kept} identities kept, "
                f"{self.warm_start.identities_new} new)"
            )
        self.log(
            f"training on {self.settings.device} {start}: {len(self.dataset)} images, "
            f"{len(self.identity_map)} identities, input {config.input_size[0]}x{config.input_size[1]}, "
            f"batch {config.batch_size}, {config.epochs} epochs, {self.threads.torch_threads} torch threads, "
            f"{self.threads.loader_workers} loader workers, time limit {config.max_minutes or 'none'} min"
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
                if self.time_limit_s is not None and time.perf_counter() - start >= self.time_limit_s:
                    stopped = True
                    break
                lr = self.schedule.lr(step)
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
            threads=self.threads,
            warm_start=self.warm_start,
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


def train(
    dataset_root: Path,
    config: TrainConfig,
    *,
    parent: Checkpoint | None = None,
    log: Callable[[str], None] = print,
) -> TrainResult:
    """Train on the ``train`` split of the dataset version at ``dataset_root``, from ``parent``'s weights when
    given (else from scratch), then evaluate on ``config.evaluate_split``. Never downloads weights."""
    if parent is not None and config.start_from == "scratch":
        raise InputError("a parent model was given to a run configured to start from scratch", field="start_from")
    root = Path(dataset_root)
    settings = resolve_device(config.device)
    threads = training_threads(config, settings)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads.torch_threads)
    try:
        with deterministic(settings, config.seed):
            return Trainer(root, config, settings, log, threads=threads, parent=parent).run()
    finally:
        torch.set_num_threads(previous_threads)
