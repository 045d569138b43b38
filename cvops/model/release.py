"""From a finished training run to a registered candidate: checkpoint, TorchScript export (parity checked), card.

The registry keeps what an application needs to run the model (the TorchScript file) beside what a person needs
to trust it (the card: dataset version, training config, validation metrics, the tracker's operating point, the
export's parity with the eager model, code commit).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from cvops.model.export import export_torchscript
from cvops.model.train import TrainResult
from cvops.registry import ModelCard, ModelRegistry, ModelVersion


def register_candidate(result: TrainResult, registry: ModelRegistry, *, dataset_version: str) -> ModelVersion:
    """Save ``result``'s checkpoint and TorchScript export and register them as a candidate of ``registry``.

    ``dataset_version`` is the git tag of the dataset the model was trained on (``dataset/v3``)."""
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
        )
        return registry.register(checkpoint, torchscript, card)


def card_metrics(values: dict[str, object]) -> dict[str, float]:
    """The numbers of a validation report (flags and texts left out)."""
    return {k: float(v) for k, v in values.items() if isinstance(v, int | float) and not isinstance(v, bool)}
