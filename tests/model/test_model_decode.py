"""Decoding recovers boxes from perfect outputs, through the letterbox, on single images and datasets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from cvops.model.data import DetectionDataset
from cvops.model.decode import decode_outputs, detect, detections_frame, heatmap_peaks
from cvops.model.detection_metrics import ap50_per_class
from cvops.model.geometry import fit_placement
from cvops.model.network import gather_cells
from cvops.model.schema import CLASS_NAMES
from cvops.model.targets import OUTPUT_STRIDE, SampleTargets, build_targets
from cvops.model.toy_data import write_toy_dataset


def perfect_outputs(targets: SampleTargets, embedding_dim: int = 8) -> dict[str, torch.Tensor]:
    """What an ideal network would output for ``targets``: the target heatmap (as logits) and exact boxes."""
    heat = torch.from_numpy(targets.heatmap).clamp(1e-6, 1 - 1e-6)
    _, height, width = heat.shape
    box = torch.zeros(4, height * width)
    box[:2, targets.index] = torch.from_numpy(targets.size).T
    box[2:, targets.index] = torch.from_numpy(targets.offset).T
    features = torch.zeros(embedding_dim, height * width)
    features[torch.from_numpy(targets.identity % embedding_dim), torch.from_numpy(targets.index)] = 1.0
    return {
        "heatmap": torch.log(heat / (1 - heat))[None],
        "box": box.reshape(1, 4, height, width),
        "embedding_features": features.reshape(1, embedding_dim, height, width),
    }


class Identity(nn.Module):
    """Stands in for a network: its ``embed`` returns the embedding features unchanged."""

    stride = OUTPUT_STRIDE

    def embed(self, features: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return gather_cells(features, index)


class OracleNet(Identity):
    """Returns fixed outputs whatever the input, with the attributes ``detect`` reads from a real model."""

    def __init__(self, outputs: dict[str, torch.Tensor], input_size: tuple[int, int]) -> None:
        super().__init__()
        self.outputs = outputs
        self.input_size = input_size
        self.class_names = list(CLASS_NAMES)
        self.unused = nn.Parameter(torch.zeros(1))

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return {name: value.expand(images.shape[0], *value.shape[1:]) for name, value in self.outputs.items()}


def test_decode_recovers_boxes_classes_and_embeddings() -> None:
    boxes = np.array([[8, 12, 8, 16], [40, 20, 12, 24], [30, 50, 4, 4]], np.float32)
    targets = build_targets(boxes, np.array([0, 2, 3]), np.array([1, 2, 3]), (64, 64), 4)
    [found] = decode_outputs(Identity(), perfect_outputs(targets), conf_threshold=0.5)
    order = np.argsort(found.boxes[:, 0])
    np.testing.assert_allclose(found.boxes[order], boxes[np.argsort(boxes[:, 0])], atol=1e-4)
    assert found.classes[order].tolist() == [0, 3, 2]
    assert np.allclose(found.scores, 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(found.embeddings, axis=1), 1.0, atol=1e-5)
    assert found.embeddings[order].argmax(axis=1).tolist() == [1, 3, 2]


def test_only_the_best_class_survives_at_a_cell() -> None:
    logits = torch.full((1, 4, 4, 4), -10.0)
    logits[0, 0, 1, 1] = 3.0
    logits[0, 1, 1, 1] = 1.0  # same cell, weaker class: suppressed
    logits[0, 3, 1, 2] = 0.5  # next cell, other class: kept (ball at a player's feet)
    peaks = heatmap_peaks(logits)
    assert peaks[0, 0, 1, 1] > 0
    assert peaks[0, 1, 1, 1] == 0
    assert peaks[0, 3, 1, 2] > 0


def test_detect_maps_boxes_back_through_the_letterbox() -> None:
    image_boxes = np.array([[10, 10, 12, 24], [90, 30, 8, 16]], np.float32)
    input_size = (64, 64)
    placement = fit_placement((128, 64), input_size)  # half scale, 16 px bands above and below
    targets = build_targets(placement.boxes_to_input(image_boxes), np.array([0, 1]), np.array([0, 1]), input_size, 4)
    model = OracleNet(perfect_outputs(targets), input_size)
    frames = detect(model, np.zeros((3, 64, 128, 3), np.uint8), conf_threshold=0.5)
    assert len(frames) == 3
    found = frames[1].sort_values("x")
    np.testing.assert_allclose(found[["x", "y", "w", "h"]].to_numpy(), image_boxes, atol=1e-3)
    assert found["role"].tolist() == ["player", "goalkeeper"]
    assert found["embedding"].iloc[0].shape == (8,)


def test_detect_rejects_a_non_image_array() -> None:
    model = OracleNet(perfect_outputs(build_targets(np.zeros((0, 4)), [], [], (32, 32), 4)), (32, 32))
    with pytest.raises(ValueError, match="uint8 images"):
        detect(model, np.zeros((4, 4), np.uint8))


def test_perfect_outputs_of_a_dataset_score_ap_one(tmp_path: Path) -> None:
    """Dataset letterboxing, targets, decoding and the mapping back to image pixels agree with the labels."""
    root = write_toy_dataset(tmp_path / "ds", train_matches=1, val_matches=1, frames_per_match=4, n_players=2)
    dataset = DetectionDataset(root, "val", (192, 128))  # letterboxed: 160x96 becomes 192x115, padded
    placement = fit_placement((160, 96), (192, 128))
    detections, truth = [], []
    for index in range(len(dataset)):
        _, targets = dataset[index]
        [raw] = decode_outputs(Identity(), perfect_outputs(targets), conf_threshold=0.5)
        detections.append(detections_frame(raw, placement, list(CLASS_NAMES)).assign(image=index))
        labels = dataset.frame_labels(index)
        truth.append(pd.DataFrame(labels.boxes, columns=["x", "y", "w", "h"]).assign(cls=labels.classes, image=index))
    ap = ap50_per_class(pd.concat(detections), pd.concat(truth), CLASS_NAMES)
    assert ap == {"player": 1.0, "goalkeeper": 1.0, "referee": 1.0, "ball": 1.0}
