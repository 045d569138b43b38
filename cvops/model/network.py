"""The detection + re-ID network: a compact FairMOT-style encoder-decoder with stride-4 heads.

FairMOT uses DLA-34 with deformable up-sampling; that takes hours on a GPU. This is the same shape of network
scaled down so that it trains from scratch on two CPU cores in minutes: a ResNet-like encoder (one residual
block per level, strides 4 to 32), an FPN-like decoder that adds each level back on the way up to stride 4
(where ~10x20 px players are still 2-3 cells tall), and three light heads on the stride-4 features:

* ``heatmap``: per-class centre logits (player, goalkeeper, referee, ball), focal-loss trained as in
  CenterNet;
* ``box``: box width and height in cells, then the centre's sub-cell offset (FairMOT's ``wh`` and ``reg``
  heads, merged into one head to save a 3x3 convolution at full resolution);
* ``embedding``: a 3x3 convolution to ``embedding_features`` (``head_channels`` wide), then a linear
  projection to the ``embedding_dim`` re-ID vector that :meth:`CenterTrackNet.embed` applies only at the cells
  asked for (object centres in training, heatmap peaks at inference). A 1x1 convolution reads one cell, so this
  gives exactly what a dense 1x1 convolution would there, without computing (and back-propagating through) 128
  channels at each of the ~4000 stride-4 cells: that dense layer alone was a quarter of a CPU training step.
  Vectors are not normalised here (the decoder and the loss do it).

The network takes float RGB in [0, 1] (letterboxed, see :mod:`cvops.model.geometry`) and normalises inside,
so an exported TorchScript file needs no preprocessing code beside it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from cvops.model.geometry import check_input_size
from cvops.model.schema import CLASS_NAMES
from cvops.model.targets import OUTPUT_STRIDE

HEATMAP_PRIOR_BIAS = -2.19
"""CenterNet's initial heatmap bias (sigmoid = 0.1), so the focal loss does not start swamped by negatives."""


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild the network (stored in checkpoints)."""

    input_size: tuple[int, int] = (384, 224)
    class_names: tuple[str, ...] = CLASS_NAMES
    embedding_dim: int = 128
    stem_channels: int = 16
    channels: tuple[int, int, int, int] = (16, 32, 64, 128)
    head_channels: int = 24

    def __post_init__(self) -> None:
        check_input_size(self.input_size)
        if len(self.channels) != 4:
            raise ValueError(f"channels must give 4 levels (strides 4, 8, 16, 32), got {self.channels}")

    def to_dict(self) -> dict[str, Any]:
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        width, height = (int(v) for v in data["input_size"])
        c4, c8, c16, c32 = (int(v) for v in data["channels"])
        return cls(
            input_size=(width, height),
            class_names=tuple(str(name) for name in data["class_names"]),
            embedding_dim=int(data["embedding_dim"]),
            stem_channels=int(data["stem_channels"]),
            channels=(c4, c8, c16, c32),
            head_channels=int(data["head_channels"]),
        )


def conv_bn_relu(in_channels: int, out_channels: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class ResidualBlock(nn.Module):
    """ResNet's basic block (two 3x3 convolutions and an identity shortcut)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = conv_bn_relu(channels, channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(x + self.bn2(self.conv2(self.conv1(x))))


class UpMerge(nn.Module):
    """Decoder step: project the deeper map to the skip's width, upsample 2x, add the skip, then a 3x3
    conv."""

    def __init__(self, deep_channels: int, skip_channels: int) -> None:
        super().__init__()
        self.project = conv_bn_relu(deep_channels, skip_channels, kernel=1)
        self.upsample = nn.Upsample(scale_factor=2.0, mode="nearest")
        self.merge = conv_bn_relu(skip_channels, skip_channels)

    def forward(self, deep: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.merge(self.upsample(self.project(deep)) + skip)


def gather_cells(feature_map: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Values of ``(B, C, H, W)`` at flat cell indices ``(B, N)`` (``y * W + x``), as ``(B, N, C)``."""
    batch, channels = feature_map.shape[0], feature_map.shape[1]
    flat = feature_map.reshape(batch, channels, -1)
    return flat.gather(2, index.unsqueeze(1).expand(batch, channels, index.shape[1])).transpose(1, 2)


def head(in_channels: int, hidden: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, hidden, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(hidden, out_channels, 1),
    )


class CenterTrackNet(nn.Module):
    """Detection (heatmap + box) and re-ID embedding at stride 4; see the module docstring."""

    __jit_ignored_attributes__ = ["config"]  # noqa: RUF012 (TorchScript reads this exact class attribute)

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        # Plain attributes (types inferred from the values) that TorchScript keeps, so detect() runs on an export.
        self.input_size = self.config.input_size
        self.class_names = list(self.config.class_names)
        self.stride = OUTPUT_STRIDE
        c4, c8, c16, c32 = self.config.channels
        self.register_buffer("pixel_mean", torch.tensor([0.5, 0.5, 0.5]).view(1, 3, 1, 1))
        self.register_buffer("pixel_std", torch.tensor([0.25, 0.25, 0.25]).view(1, 3, 1, 1))
        stem = self.config.stem_channels
        self.level4 = nn.Sequential(
            conv_bn_relu(3, stem, stride=2), conv_bn_relu(stem, c4, stride=2), ResidualBlock(c4)
        )
        self.level8 = nn.Sequential(conv_bn_relu(c4, c8, stride=2), ResidualBlock(c8))
        self.level16 = nn.Sequential(conv_bn_relu(c8, c16, stride=2), ResidualBlock(c16))
        self.level32 = nn.Sequential(conv_bn_relu(c16, c32, stride=2), ResidualBlock(c32))
        self.up16 = UpMerge(c32, c16)
        self.up8 = UpMerge(c16, c8)
        self.up4 = UpMerge(c8, c4)
        hidden = self.config.head_channels
        self.heatmap_head = head(c4, hidden, len(self.class_names))
        self.box_head = head(c4, hidden, 4)
        self.embedding_head = nn.Sequential(nn.Conv2d(c4, hidden, 3, padding=1), nn.ReLU(inplace=True))
        self.embedding_projection = nn.Linear(hidden, self.config.embedding_dim)
        nn.init.constant_(self.heatmap_head[-1].bias, HEATMAP_PRIOR_BIAS)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """``images``: ``(B, 3, H, W)`` in [0, 1], H and W multiples of 32. Outputs are ``(B, *, H/4,
        W/4)``."""
        x = (images - self.pixel_mean) / self.pixel_std
        f4 = self.level4(x)
        f8 = self.level8(f4)
        f16 = self.level16(f8)
        f32 = self.level32(f16)
        features = self.up4(self.up8(self.up16(f32, f16), f8), f4)
        return {
            "heatmap": self.heatmap_head(features),
            "box": self.box_head(features),
            "embedding_features": self.embedding_head(features),
        }

    @torch.jit.export
    def embed(self, embedding_features: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Re-ID vectors ``(B, N, embedding_dim)`` at flat cell indices ``(B, N)`` of the stride-4 grid."""
        return self.embedding_projection(gather_cells(embedding_features, index))
