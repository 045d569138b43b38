"""From a finished training run to a registered candidate: the release gate, checkpoint, TorchScript export
(parity checked), card.

The registry keeps what an application needs to run the model (the TorchScript file) beside what a person needs
to trust it (the card: dataset version, parent model, training config, validation metrics, the tracker's operating
point, the export's parity with the eager model, code commit).

Only a model that finished its training and detects players at all is registered: a run cut short by its safety
limit on a busy machine, or one that learnt nothing, would otherwise go through the whole benchmark only to be
rejected there (or, with no production model yet, be promoted).
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from cvops.errors import CvopsError
from cvops.model.export import export_torchscript
from cvops.model.train import TrainResult
from cvops.registry import ModelCard, ModelRegistry, ModelVersion


class NotReleasableError(CvopsError):
    """A trained model that does not pass the release gate; the message says why, the registry is unchanged."""


@dataclass(frozen=True)
class ReleaseConfig:
    """The release gate: what a trained model must reach before it is registered as a candidate."""

    min_epochs: int | None = None
    """Epochs the run must have completed; ``None``: every epoch it was configured for (a run stopped by its
    ``max_minutes`` safety net did not finish its training)."""
    min_player_ap50: float = 0.5
    """Floor of the validation player AP50 (the demo's models reach 0.85-0.95; a model that learnt nothing
    scores near 0). A model without a validation split has no AP50 and does not pass a floor above 0."""

    def __post_init__(self) -> None:
        if self.min_epochs is not None and self.min_epochs < 1:
            raise ValueError(f"min_epochs must be at least 1 (or None for every epoch), got {self.min_epochs}")
        if not 0.0 <= self.min_player_ap50 <= 1.0:
            raise ValueError(f"min_player_ap50 must be in [0, 1], got {self.min_player_ap50}")


def release_problems(result: TrainResult, gate: ReleaseConfig) -> list[str]:
    """Why ``result`` may not be registered under ``gate`` (empty when it may)."""
    problems = []
    needed = result.config.epochs if gate.min_epochs is None else gate.min_epochs
    if result.epochs_completed < needed:
        cause = (
            f" (stopped by the {result.config.max_minutes:g}-minute safety limit)"
            if result.stopped_by_time_budget
            else ""
        )
        problems.append(f"it completed {result.epochs_completed} of {needed} required epochs{cause}")
    ap50 = (result.val_metrics or {}).get("player_ap50")
    if ap50 is None or not math.isfinite(ap50):
        if gate.min_player_ap50 > 0:
            problems.append("it has no validation player AP50 (no val split to evaluate on)")
    elif ap50 < gate.min_player_ap50:
        problems.append(f"its validation player AP50 {ap50:.3f} is below the floor {gate.min_player_ap50:g}")
    return problems


def check_release(result: TrainResult, gate: ReleaseConfig) -> None:
    """Raise :class:`NotReleasableError` naming every problem, with the run's epochs, AP50 and images/s."""
    problems = release_problems(result, gate)
    if problems:
        ap50 = (result.val_metrics or {}).get("player_ap50")
        raise NotReleasableError(
            "the model is not registered: "
            + "; ".join(problems)
            + f". Run: {result.epochs_completed}/{result.config.epochs} epochs in {result.seconds:.0f} s at "
            f"{result.images_per_second:.1f} images/s on {result.device} ({result.threads.torch_threads} torch "
            f"threads), player AP50 {'n/a' if ap50 is None else f'{ap50:.3f}'}"
        )


def register_candidate(
    result: TrainResult,
    registry: ModelRegistry,
    *,
    dataset_version: str,
    gate: ReleaseConfig | None = None,
    parent_model: str | None = None,
) -> ModelVersion:
    """Check ``result`` against the release gate, then save its checkpoint and TorchScript export and register
    them as a candidate of ``registry``.

    ``dataset_version`` is the git tag of the dataset the model was trained on (``dataset/v3``);
    ``parent_model`` the registry version whose weights it started from (``None``: from scratch)."""
    check_release(result, gate or ReleaseConfig())
    if (parent_model is None) != (result.warm_start is None):
        raise CvopsError("parent_model must name the model a warm-started run started from, and only then")
    width, height = result.config.input_size
    with tempfile.TemporaryDirectory(prefix="cvops-model-") as tmp:
        checkpoint = result.save(Path(tmp) / "checkpoint.pt")
        torchscript = Path(tmp) / "model.torchscript.pt"
        parity = export_torchscript(result.model, torchscript, torch.rand(1, 3, height, width))
        card = ModelCard.create(
            dataset_version=dataset_version,
            config=result.config.to_dict(),
            metrics=card_metrics(result.val_metrics or {}),
            parity_max_abs_diff=parity,
            device=result.device,
            parent_model=parent_model,
            extra={"training": training_record(result)},
        )
        return registry.register(checkpoint, torchscript, card)


def training_record(result: TrainResult) -> dict[str, object]:
    """How the run went, for the card: epochs, time, throughput, threads, what it took from its parent."""
    metrics = result.metrics()
    return {key: metrics[key] for key in ("epochs_completed", "train_seconds", "images_per_second")} | {
        "torch_threads": result.threads.torch_threads,
        "loader_workers": result.threads.loader_workers,
        "warm_start": metrics["warm_start"],
    }


def card_metrics(values: dict[str, object]) -> dict[str, float]:
    """The numbers of a validation report (flags and texts left out)."""
    return {k: float(v) for k, v in values.items() if isinstance(v, int | float) and not isinstance(v, bool)}
