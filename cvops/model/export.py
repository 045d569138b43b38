"""TorchScript export, checked by re-loading the written file and comparing its outputs with the eager model's.

The exported module keeps ``input_size``, ``class_names``, ``stride`` and the ``embed`` method, so
:func:`cvops.model.decode.detect` runs on it unchanged, without the Python class.

TorchScript is deprecated in favour of ``torch.export`` in recent torch releases, but it is the format asked
for (one file that C++ and ``torch.jit.load`` run without the Python code); the parity check guards it, and the
deprecation warnings are silenced only around the calls here.
"""

from __future__ import annotations

import contextlib
import copy
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch

from cvops.io import atomic_path
from cvops.model.network import CenterTrackNet


@contextlib.contextmanager
def _quiet_torchscript() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated", category=DeprecationWarning)
        yield


@torch.no_grad()
def export_torchscript(model: CenterTrackNet, path: Path, example: torch.Tensor) -> float:
    """Script ``model`` (a CPU copy in eval mode) to ``path`` atomically; return the max abs difference between
    the reloaded file's outputs and the eager model's on ``example`` (``(B, 3, H, W)`` in [0, 1]), re-ID
    vectors at every cell included."""
    eager = copy.deepcopy(model).cpu().eval().to(memory_format=torch.contiguous_format)
    path = Path(path)
    with _quiet_torchscript():
        scripted = torch.jit.script(eager)
        with atomic_path(path) as tmp:
            torch.jit.save(scripted, str(tmp))
    reloaded = load_torchscript(path)
    example = example.cpu().float()
    expected, actual = eager(example), reloaded(example)
    diffs = [float((expected[name] - actual[name]).abs().max()) for name in expected]
    features = expected["embedding_features"]
    cells = torch.arange(features.shape[2] * features.shape[3]).expand(features.shape[0], -1)
    diffs.append(float((eager.embed(features, cells) - reloaded.embed(features, cells)).abs().max()))
    return max(diffs)


def load_torchscript(path: Path, map_location: str | torch.device = "cpu") -> torch.jit.ScriptModule:
    """Load an export in eval mode; :func:`cvops.model.decode.detect` accepts the result."""
    with _quiet_torchscript():
        return torch.jit.load(str(path), map_location=map_location).eval()
