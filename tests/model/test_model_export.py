"""TorchScript export: parity with the eager model, and the export runs through detect()."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from cvops.model.decode import detect
from cvops.model.export import export_torchscript, load_torchscript
from cvops.model.network import CenterTrackNet, ModelConfig

CONFIG = ModelConfig(input_size=(96, 64), channels=(8, 16, 16, 16), stem_channels=8, head_channels=8, embedding_dim=16)


def _trained_looking_model() -> CenterTrackNet:
    """Random weights with non-trivial batch-norm statistics (as after training), in eval mode."""
    torch.manual_seed(0)
    model = CenterTrackNet(CONFIG)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(4, 3, 64, 96))
    return model.eval()


def test_torchscript_export_matches_eager(tmp_path: Path) -> None:
    model = _trained_looking_model()
    path = tmp_path / "model.torchscript.pt"
    diff = export_torchscript(model, path, torch.rand(2, 3, 64, 96))
    assert path.is_file()
    assert diff < 1e-4
    assert not model.training  # the caller's model is left as it was


def test_exported_model_detects_like_the_eager_one(tmp_path: Path) -> None:
    model = _trained_looking_model()
    path = tmp_path / "model.torchscript.pt"
    export_torchscript(model, path, torch.rand(1, 3, 64, 96))
    scripted = load_torchscript(path)
    assert tuple(scripted.input_size) == (96, 64)
    images = np.random.default_rng(0).integers(0, 255, size=(2, 48, 80, 3), dtype=np.uint8)
    eager_frames = detect(model, images, conf_threshold=0.0, max_detections=20)
    scripted_frames = detect(scripted, images, conf_threshold=0.0, max_detections=20)
    for eager, exported in zip(eager_frames, scripted_frames, strict=True):
        assert len(eager) == len(exported) == 20
        pd.testing.assert_frame_equal(
            eager.drop(columns="embedding"), exported.drop(columns="embedding"), atol=1e-4, check_exact=False
        )
