"""ONNX export for applications that do not run PyTorch (ONNX Runtime, TensorRT, OpenVINO, a browser), checked by
running the written file in ONNX Runtime and comparing its outputs with the eager model's.

The graph is the network plus its re-ID projection applied at every stride-4 cell, so the file alone gives
everything :func:`cvops.model.decode.detect` uses: ``heatmap`` ``(B, classes, H/4, W/4)`` (logits), ``box``
``(B, 4, H/4, W/4)`` (width, height, sub-cell offset) and ``embedding`` ``(B, D, H/4, W/4)`` (before L2
normalisation: read it at the heatmap's peaks). Inputs are ``images`` ``(B, 3, H, W)`` in [0, 1], letterboxed to
the model's input size as ``detect`` does; the batch size is dynamic. The export uses torch's own exporter
(``torch.onnx.export(dynamo=True)``, which needs ``onnxscript``).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

from cvops.errors import CvopsError
from cvops.io import atomic_path
from cvops.model.network import CenterTrackNet

ONNX_INPUT = "images"
ONNX_OUTPUTS = ("heatmap", "box", "embedding")
ONNX_TOLERANCE = 1e-4
"""Largest abs difference allowed between ONNX Runtime's outputs and the eager model's (float32 on CPU; the
measured differences are about 1e-6: docs/registry.md)."""
OPSET = 18


class OnnxExportError(CvopsError):
    """The export failed, or the written file does not compute what the eager model computes."""


class DenseEmbeddings(nn.Module):
    """The network with its re-ID projection applied at every cell (the export's graph)."""

    def __init__(self, model: CenterTrackNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        outputs = self.model(images)
        projection = self.model.embedding_projection
        features = outputs["embedding_features"]
        embedding = torch.einsum("bchw,dc->bdhw", features, projection.weight) + projection.bias.view(1, -1, 1, 1)
        return outputs["heatmap"], outputs["box"], embedding


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """The exporter logs a warning per optional torchvision operator it cannot find, and torch's pytree a
    deprecation: noise for a model that uses neither."""
    logger = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        logger.setLevel(level)


def export_onnx(model: CenterTrackNet, path: Path, *, tolerance: float = ONNX_TOLERANCE, seed: int = 0) -> float:
    """Export ``model`` (a CPU copy in eval mode) to ``path`` atomically, run the file in ONNX Runtime on a
    seeded batch of two images and return the largest abs difference from the eager outputs; raise
    :class:`OnnxExportError` (and leave nothing at ``path``) when it exceeds ``tolerance``."""
    import onnxruntime

    eager = DenseEmbeddings(copy.deepcopy(model).cpu().eval().to(memory_format=torch.contiguous_format)).eval()
    width, height = model.config.input_size
    example = torch.rand(2, 3, height, width, generator=torch.Generator().manual_seed(seed))
    path = Path(path)
    with atomic_path(path) as tmp:
        with _quiet_exporter(), torch.no_grad():
            try:
                torch.onnx.export(
                    eager,
                    (example,),
                    str(tmp),
                    dynamo=True,
                    opset_version=OPSET,
                    input_names=[ONNX_INPUT],
                    output_names=list(ONNX_OUTPUTS),
                    dynamic_shapes={"images": {0: torch.export.Dim("batch", min=1, max=1024)}},
                    external_data=False,  # one self-contained file (the weights are a few MB)
                    verbose=False,
                )
            except Exception as exc:  # the exporter raises many types; the caller needs one
                raise OnnxExportError(f"ONNX export failed: {exc}") from exc
            expected = [t.numpy() for t in eager(example)]
        session = onnxruntime.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        actual = session.run(list(ONNX_OUTPUTS), {ONNX_INPUT: example.numpy()})
        diff = max(float(np.abs(a - e).max()) for a, e in zip(actual, expected, strict=True))
        if not diff <= tolerance:
            raise OnnxExportError(
                f"the ONNX export differs from the eager model by {diff:.3g} (tolerance {tolerance:g}): not written"
            )
    return diff
