"""Delivery to the product: everything an application needs to run a model version, in one folder.

``cvops models pull production --out DIR`` (:func:`pull_model`) writes:

| file | what |
|---|---|
| ``model.torchscript.pt`` | the registry's TorchScript export (``torch.jit.load``, C++ ``torch::jit::load``) |
| ``model.onnx`` | an ONNX export of the same weights, run in ONNX Runtime and checked against the eager model |
| ``card.json``, ``card.md`` | the model card: dataset version, parent model, config, metrics, code commit |
| ``operating_point.json`` | the tracker settings the benchmark scored the model with (its own score threshold) |
| ``manifest.json`` | version, stage, input size, classes, the ONNX graph's inputs and outputs, the parity checks |
| ``SHA256SUMS`` | the checksum of every other file (``sha256sum -c SHA256SUMS``) |

The folder is assembled beside ``DIR`` and swapped in by renames, so an application reading ``DIR`` sees the old
model or the new one, never half of each. The registry's production pointer (:mod:`cvops.registry`,
``production.json``) tells an application polling the registry when to pull again.
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

from cvops.benchmark.scoring import benchmark_tracker
from cvops.model.checkpoint import load_checkpoint
from cvops.model.onnx_export import ONNX_INPUT, ONNX_OUTPUTS, ONNX_TOLERANCE, export_onnx
from cvops.registry import ModelRegistry, ModelVersion, RegistryError, Stage
from cvops.registry.storage import sha256_of

TORCHSCRIPT = "model.torchscript.pt"
ONNX = "model.onnx"
CHECKSUMS = "SHA256SUMS"


@dataclass(frozen=True)
class PulledModel:
    version: ModelVersion
    folder: Path
    files: dict[str, str]
    """File name -> sha256 (what ``SHA256SUMS`` lists)."""
    onnx_max_abs_diff: float


def resolve_version(registry: ModelRegistry, name: str) -> ModelVersion:
    """``production`` (the model in production), or a version id (``m0003``)."""
    if name == Stage.PRODUCTION.value:
        production = registry.production()
        if production is None:
            raise RegistryError(f"{registry.storage.uri} has no model in production yet")
        return production
    return registry.get(name)


def pull_model(registry: ModelRegistry, name: str, out: Path, *, tolerance: float = ONNX_TOLERANCE) -> PulledModel:
    """Write the delivery folder of model ``name`` (``production`` or a version) to ``out``, replacing what was
    there only once the new folder is complete and checked."""
    version = resolve_version(registry, name)
    out = Path(out).absolute()
    staging = out.with_name(f".{out.name}.{uuid.uuid4().hex[:12]}.tmp")
    staging.mkdir(parents=True)
    try:
        torchscript = registry.torchscript_path(version.version)
        if sha256_of(torchscript) != version.torchscript_sha256:
            raise RegistryError(f"{torchscript}: checksum differs from the registry's record, the file is damaged")
        shutil.copyfile(torchscript, staging / TORCHSCRIPT)
        checkpoint = load_checkpoint(registry.checkpoint_path(version.version))
        onnx_diff = export_onnx(checkpoint.model, staging / ONNX, tolerance=tolerance)
        (staging / "card.json").write_text(json.dumps(version.card.to_dict(), indent=2, sort_keys=True) + "\n")
        (staging / "card.md").write_text(registry.card_markdown(version.version))
        threshold = version.card.metrics.get("track_score_threshold")
        operating_point = {"track_score_threshold": threshold, "tracker": asdict(benchmark_tracker(threshold))}
        (staging / "operating_point.json").write_text(json.dumps(operating_point, indent=2, sort_keys=True) + "\n")
        manifest = _manifest(version, checkpoint.model.config.to_dict(), onnx_diff, tolerance)
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        files = {path.name: sha256_of(path) for path in sorted(staging.iterdir())}
        (staging / CHECKSUMS).write_text("".join(f"{digest}  {name}\n" for name, digest in files.items()))
        _swap_in(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return PulledModel(version=version, folder=out, files=files, onnx_max_abs_diff=onnx_diff)


def _manifest(version: ModelVersion, model_config: dict, onnx_diff: float, tolerance: float) -> dict:
    width, height = model_config["input_size"]
    return {
        "model_version": version.version,
        "stage": version.stage.value,
        "dataset_version": version.card.dataset_version,
        "parent_model": version.card.parent_model,
        "input": {"name": ONNX_INPUT, "shape": ["batch", 3, height, width], "range": [0.0, 1.0], "layout": "RGB"},
        "outputs": {name: ["batch", "*", height // 4, width // 4] for name in ONNX_OUTPUTS},
        "class_names": model_config["class_names"],
        "stride": 4,
        "torchscript_parity_max_abs_diff": version.card.parity_max_abs_diff,
        "onnx_parity_max_abs_diff": onnx_diff,
        "onnx_parity_tolerance": tolerance,
        "versions": {name: _installed(name) for name in ("torch", "onnx", "onnxruntime")},
    }


def _installed(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def _swap_in(staging: Path, out: Path) -> None:
    """Put ``staging`` at ``out`` by renames: ``out`` is never a partial folder (between the two renames it is
    briefly absent, which a reader sees as "not delivered yet" rather than as a mix of two models)."""
    if out.exists() and not out.is_dir():
        raise RegistryError(f"{out} exists and is not a folder")
    old = out.with_name(f".{out.name}.{uuid.uuid4().hex[:12]}.old")
    if out.exists():
        out.rename(old)
    staging.rename(out)
    shutil.rmtree(old, ignore_errors=True)
