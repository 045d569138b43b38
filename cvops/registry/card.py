"""The model card: what a model version was trained on, with which code and settings, and how good it is.

A card is written when a version is registered and never changes afterwards (the stage lives in the registry's
index, not in the card), so ``card.json`` can be trusted as a record of how the model was made.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from cvops.errors import InputError
from cvops.provenance import UNKNOWN, current_git_commit


def installed_torch_version() -> str:
    """The installed torch version, read from package metadata so recording it does not import torch."""
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return UNKNOWN


@dataclass(frozen=True)
class ModelCard:
    """Everything needed to trace a model back to its data and code, and to judge it."""

    dataset_version: str
    config: dict[str, Any]
    metrics: dict[str, float]
    parity_max_abs_diff: float
    """Max abs difference between the TorchScript file's outputs and the eager model's, as the caller measured."""
    device: str
    torch_version: str
    code_commit: str
    created_at: datetime
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    """Anything else the trainer wants on the card (free-form JSON)."""
    parent_model: str | None = None
    """The registry version whose weights training started from (warm start); ``None``: from scratch."""

    def __post_init__(self) -> None:
        if not isinstance(self.dataset_version, str) or not self.dataset_version.strip():
            raise InputError("the dataset version must be a non-empty string", field="dataset_version")
        for name, value in self.metrics.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise InputError(f"metric {name!r} must be a finite number, got {value!r}", field="metrics")
        if not math.isfinite(self.parity_max_abs_diff) or self.parity_max_abs_diff < 0:
            raise InputError(
                f"the parity max abs diff must be a finite number >= 0, got {self.parity_max_abs_diff!r}",
                field="parity_max_abs_diff",
            )
        if self.created_at.tzinfo is None:
            raise InputError("created_at must be timezone-aware", field="created_at")
        for name in ("config", "extra"):
            try:
                json.dumps(getattr(self, name), allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise InputError(f"{name} must be plain JSON data: {exc}", field=name) from None

    @classmethod
    def create(
        cls,
        *,
        dataset_version: str,
        config: dict[str, Any],
        metrics: dict[str, float],
        parity_max_abs_diff: float,
        device: str,
        notes: str = "",
        extra: dict[str, Any] | None = None,
        parent_model: str | None = None,
        repo_dir: str | Path | None = None,
    ) -> ModelCard:
        """A card stamped with the current code commit, torch version and time."""
        return cls(
            dataset_version=dataset_version,
            config=dict(config),
            metrics={k: float(v) for k, v in metrics.items()},
            parity_max_abs_diff=float(parity_max_abs_diff),
            device=device,
            torch_version=installed_torch_version(),
            code_commit=current_git_commit(repo_dir),
            created_at=datetime.now(UTC),
            notes=notes,
            extra=dict(extra or {}),
            parent_model=parent_model,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset_version": self.dataset_version,
            "parent_model": self.parent_model,
            "code_commit": self.code_commit,
            "created_at": self.created_at.isoformat(),
            "torch_version": self.torch_version,
            "device": self.device,
            "parity_max_abs_diff": self.parity_max_abs_diff,
            "metrics": dict(self.metrics),
            "config": self.config,
            "notes": self.notes,
            "extra": self.extra,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        return cls(
            dataset_version=data["dataset_version"],
            config=data.get("config", {}),
            metrics=data.get("metrics", {}),
            parity_max_abs_diff=float(data["parity_max_abs_diff"]),
            device=data.get("device", UNKNOWN),
            torch_version=data.get("torch_version", UNKNOWN),
            code_commit=data.get("code_commit", UNKNOWN),
            created_at=datetime.fromisoformat(data["created_at"]),
            notes=data.get("notes", ""),
            extra=data.get("extra", {}),
            parent_model=data.get("parent_model"),
        )


def render_card_markdown(version: str, card: ModelCard, files: dict[str, str]) -> str:
    """``card.md``: the card for people (the model page a reviewer reads before promoting)."""
    lines = [
        f"# Model {version}",
        "",
        "| field | value |",
        "|---|---|",
        f"| dataset version | `{card.dataset_version}` |",
        f"| parent model | {f'`{card.parent_model}` (warm start)' if card.parent_model else 'none (from scratch)'} |",
        f"| code commit | `{card.code_commit}` |",
        f"| created at | {card.created_at.isoformat(timespec='seconds')} |",
        f"| torch | {card.torch_version} |",
        f"| device | {card.device} |",
        f"| TorchScript parity (max abs diff) | {card.parity_max_abs_diff:.3g} |",
        "",
        "## Metrics",
        "",
    ]
    if card.metrics:
        lines += ["| metric | value |", "|---|---|"]
        lines += [f"| {name} | {value:.6g} |" for name, value in sorted(card.metrics.items())]
    else:
        lines.append("(none recorded)")
    lines += ["", "## Files", "", "| file | sha256 |", "|---|---|"]
    lines += [f"| `{name}` | `{digest}` |" for name, digest in files.items()]
    lines += ["", "## Training configuration", "", "```json", json.dumps(card.config, indent=2, sort_keys=True), "```"]
    if card.notes:
        lines += ["", "## Notes", "", card.notes]
    if card.extra:
        lines += ["", "## Extra", "", "```json", json.dumps(card.extra, indent=2, sort_keys=True), "```"]
    return "\n".join(lines) + "\n"
