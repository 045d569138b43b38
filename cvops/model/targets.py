"""Training targets at the output stride: per-class centre heatmaps, box size, centre offset and identity.

This follows CenterNet/FairMOT: each object is a Gaussian peak (value exactly 1 at the cell holding its
centre) in its class's heatmap; size, sub-cell offset and identity are regressed only at that cell,
addressed by its flat index ``y * width + x``. Sizes are in output cells (pixels / stride), as in CenterNet.

Targets are built per sample in numpy (inside the DataLoader workers) with a variable number of objects;
:func:`collate` pads them to the batch's largest count with a mask, so there is no fixed "max objects" limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

OUTPUT_STRIDE = 4
MIN_RADIUS = 1
"""CenterNet's radius is 0 for objects of 1-3 cells (a 10x20 px player at half scale), which makes the
neighbours of a centre, that look almost the same, full-weight negatives; a floor of 1 softens them."""


def gaussian_radius(height: float, width: float, min_overlap: float = 0.7) -> float:
    """CenterNet's radius: how far a corner may move while the box still has IoU >= ``min_overlap``.

    CenterNet's formula (the smallest root of its three corner-shift cases). It sets the Gaussian's spread so
    that cells near the centre, which would still give a good box, are penalised less as negatives.
    """
    a1, b1 = 1.0, height + width
    c1 = width * height * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + math.sqrt(b1**2 - 4 * a1 * c1)) / 2
    a2, b2 = 4.0, 2 * (height + width)
    c2 = (1 - min_overlap) * width * height
    r2 = (b2 + math.sqrt(b2**2 - 4 * a2 * c2)) / 2
    a3, b3 = 4 * min_overlap, -2 * min_overlap * (height + width)
    c3 = (min_overlap - 1) * width * height
    r3 = (b3 + math.sqrt(b3**2 - 4 * a3 * c3)) / 2
    return min(r1, r2, r3)


def draw_gaussian(heatmap: np.ndarray, center_x: int, center_y: int, radius: int) -> None:
    """Max-merge a Gaussian of ``radius`` (sigma = diameter / 6) into ``heatmap`` in place; peak value 1."""
    diameter = 2 * radius + 1
    sigma = diameter / 6
    offsets = np.arange(-radius, radius + 1, dtype=np.float32)
    kernel = np.exp(-(offsets[:, None] ** 2 + offsets[None, :] ** 2) / (2 * sigma * sigma))
    height, width = heatmap.shape
    left, right = min(center_x, radius), min(width - center_x, radius + 1)
    top, bottom = min(center_y, radius), min(height - center_y, radius + 1)
    region = heatmap[center_y - top : center_y + bottom, center_x - left : center_x + right]
    patch = kernel[radius - top : radius + bottom, radius - left : radius + right]
    np.maximum(region, patch, out=region)


@dataclass(frozen=True)
class SampleTargets:
    """Targets of one image with ``n`` objects; output grid ``(H, W) = input / stride``."""

    heatmap: np.ndarray  # (C, H, W) float32
    index: np.ndarray  # (n,) int64, y * W + x of the centre cell
    size: np.ndarray  # (n, 2) float32, box (w, h) in cells
    offset: np.ndarray  # (n, 2) float32, centre minus its cell's corner, in [0, 1)
    identity: np.ndarray  # (n,) int64, -1 where unknown


def build_targets(
    boxes: np.ndarray,
    classes: np.ndarray,
    identities: np.ndarray,
    input_size: tuple[int, int],
    num_classes: int,
    stride: int = OUTPUT_STRIDE,
) -> SampleTargets:
    """Targets for ``(n, 4)`` xywh boxes in input pixels (already clipped to the input)."""
    out_w, out_h = input_size[0] // stride, input_size[1] // stride
    heatmap = np.zeros((num_classes, out_h, out_w), dtype=np.float32)
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4) / stride
    centers = boxes[:, :2] + boxes[:, 2:] / 2
    cells = np.floor(centers).astype(np.int64)
    cells[:, 0] = np.clip(cells[:, 0], 0, out_w - 1)
    cells[:, 1] = np.clip(cells[:, 1], 0, out_h - 1)
    for (cell_x, cell_y), (w, h), cls in zip(cells, boxes[:, 2:], classes, strict=True):
        radius = max(MIN_RADIUS, int(gaussian_radius(math.ceil(h), math.ceil(w))))
        draw_gaussian(heatmap[int(cls)], int(cell_x), int(cell_y), radius)
    return SampleTargets(
        heatmap=heatmap,
        index=cells[:, 1] * out_w + cells[:, 0],
        size=boxes[:, 2:].copy(),
        offset=(centers - cells).astype(np.float32),
        identity=np.asarray(identities, dtype=np.int64).reshape(-1),
    )


@dataclass
class BatchTargets:
    """A batch of :class:`SampleTargets` as tensors, objects padded to the largest count with ``mask`` = 0."""

    heatmap: torch.Tensor  # (B, C, H, W)
    index: torch.Tensor  # (B, N)
    size: torch.Tensor  # (B, N, 2)
    offset: torch.Tensor  # (B, N, 2)
    identity: torch.Tensor  # (B, N), -1 on padding
    mask: torch.Tensor  # (B, N) float, 1 for real objects

    def to(self, device: torch.device) -> BatchTargets:
        return BatchTargets(
            **{name: getattr(self, name).to(device, non_blocking=True) for name in self.__dataclass_fields__}
        )


def collate_targets(samples: list[SampleTargets]) -> BatchTargets:
    count = max((len(s.index) for s in samples), default=0)
    batch = len(samples)
    index = torch.zeros((batch, count), dtype=torch.int64)
    size = torch.zeros((batch, count, 2), dtype=torch.float32)
    offset = torch.zeros((batch, count, 2), dtype=torch.float32)
    identity = torch.full((batch, count), -1, dtype=torch.int64)
    mask = torch.zeros((batch, count), dtype=torch.float32)
    for row, sample in enumerate(samples):
        n = len(sample.index)
        index[row, :n] = torch.from_numpy(sample.index)
        size[row, :n] = torch.from_numpy(sample.size)
        offset[row, :n] = torch.from_numpy(sample.offset)
        identity[row, :n] = torch.from_numpy(sample.identity)
        mask[row, :n] = 1.0
    heatmap = torch.from_numpy(np.stack([s.heatmap for s in samples]))
    return BatchTargets(heatmap=heatmap, index=index, size=size, offset=offset, identity=identity, mask=mask)
