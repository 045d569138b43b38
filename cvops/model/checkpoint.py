"""Checkpoints: the network's weights plus everything needed to use them (architecture, identity map, class
names, the training config and metrics).

The file is a plain ``torch.save`` dict of tensors, strings, numbers and lists, so it loads with
``weights_only=True`` (no pickled code runs when a checkpoint from elsewhere is opened). It is written
atomically.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cvops.errors import InputError
from cvops.io import atomic_path
from cvops.model.identities import IdentityMap
from cvops.model.network import CenterTrackNet, ModelConfig

CHECKPOINT_FORMAT = "cvops-centertrack"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Checkpoint:
    model: CenterTrackNet
    identity_map: IdentityMap
    class_names: tuple[str, ...]
    train_config: dict[str, Any] | None
    metrics: dict[str, Any] | None
    loss_state: dict[str, torch.Tensor] | None
    """The id classifier and uncertainty weights, needed only to resume training."""


def _plain(value: Any) -> Any:
    """``value`` as JSON-like builtins (tuples become lists), which ``weights_only`` loading accepts."""
    return json.loads(json.dumps(value)) if value is not None else None


def _cpu_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().cpu().contiguous() for name, tensor in module.state_dict().items()}


def save_checkpoint(
    path: Path,
    model: CenterTrackNet,
    identity_map: IdentityMap,
    *,
    train_config: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    loss: nn.Module | None = None,
) -> Path:
    """Write the checkpoint to ``path`` (atomically) and return ``path``."""
    payload = {
        "format": CHECKPOINT_FORMAT,
        "format_version": FORMAT_VERSION,
        "model_config": model.config.to_dict(),
        "state_dict": _cpu_state(model),
        "identity_map": identity_map.to_records(),
        "class_names": list(model.class_names),
        "train_config": _plain(train_config),
        "metrics": _plain(metrics),
        "loss_state": _cpu_state(loss) if loss is not None else None,
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_checkpoint(path: Path, *, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Rebuild the network (in eval mode) and its metadata from a :func:`save_checkpoint` file."""
    path = Path(path)
    if not path.is_file():
        raise InputError("checkpoint not found", file=path)
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises several unrelated types for corrupt or foreign files
        raise InputError(f"not a readable checkpoint: {exc}", file=path) from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"not a {CHECKPOINT_FORMAT} checkpoint", file=path, field="format")
    if payload.get("format_version") != FORMAT_VERSION:
        raise InputError(
            f"checkpoint format version {payload.get('format_version')!r}, this cvops reads {FORMAT_VERSION}",
            file=path,
            field="format_version",
        )
    model = CenterTrackNet(ModelConfig.from_dict(payload["model_config"]))
    model.load_state_dict(payload["state_dict"])
    model.to(map_location).eval()
    return Checkpoint(
        model=model,
        identity_map=IdentityMap.from_records(payload["identity_map"]),
        class_names=tuple(payload["class_names"]),
        train_config=payload["train_config"],
        metrics=payload["metrics"],
        loss_state=payload["loss_state"],
    )
