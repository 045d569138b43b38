"""Letterboxing: how an image of any size becomes the network's fixed input, and how boxes map back.

Training (without augmentation), evaluation and :func:`cvops.model.decode.detect` all go through
:func:`letterbox_image`, so the model sees frames prepared exactly the same way wherever it runs. The image
is scaled to fit the input while keeping its aspect ratio and centred on a grey canvas (grey is the mean
pixel the network's normalisation subtracts, so padding reads as "nothing").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

PAD_VALUE = 0.5
"""Canvas value in [0, 1] around the letterboxed image."""


def check_input_size(input_size: tuple[int, int], stride: int = 32) -> tuple[int, int]:
    """``(width, height)`` as ints, both positive multiples of ``stride`` (the network downsamples 32
    times)."""
    width, height = (int(v) for v in input_size)
    if width <= 0 or height <= 0 or width % stride or height % stride:
        raise ValueError(f"input_size must be (width, height), multiples of {stride}; got {input_size}")
    return width, height


@dataclass(frozen=True)
class Placement:
    """Image pixel ``p`` lands at input pixel ``p * scale + (offset_x, offset_y)``."""

    scale: float
    offset_x: float
    offset_y: float

    def boxes_to_input(self, boxes: np.ndarray) -> np.ndarray:
        """``(N, 4)`` xywh image-pixel boxes in input pixels."""
        out = np.asarray(boxes, dtype=np.float32) * self.scale
        out[:, 0] += self.offset_x
        out[:, 1] += self.offset_y
        return out

    def boxes_to_image(self, boxes: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`boxes_to_input`."""
        out = np.array(boxes, dtype=np.float32)
        out[:, 0] -= self.offset_x
        out[:, 1] -= self.offset_y
        return out / self.scale


def fit_placement(image_size: tuple[int, int], input_size: tuple[int, int]) -> Placement:
    """The centred, aspect-preserving placement of a ``(width, height)`` image in the input."""
    image_w, image_h = image_size
    input_w, input_h = input_size
    scale = min(input_w / image_w, input_h / image_h)
    new_w, new_h = round(image_w * scale), round(image_h * scale)
    return Placement(scale=scale, offset_x=float((input_w - new_w) // 2), offset_y=float((input_h - new_h) // 2))


def resize_to_float(image: np.ndarray | torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A uint8 ``(H, W, 3)`` RGB image resized to ``(width, height)``, as a float ``(3, h, w)`` tensor in [0, 1].

    The resize runs on the uint8 pixels in channels-last layout (the ``(H, W, 3)`` array viewed as
    ``(1, 3, H, W)``, no copy), where torch has a vectorised antialiased bilinear kernel: over 10x faster on
    CPU than resizing the float image, and the conversion to float then touches only the (smaller) output.
    """
    if isinstance(image, np.ndarray) and not image.flags.writeable:
        image = image.copy()  # torch warns on (and must not alias) read-only arrays, e.g. decoded video frames
    pixels = torch.as_tensor(image)
    if pixels.ndim != 3 or pixels.shape[-1] != 3 or pixels.dtype != torch.uint8:
        raise ValueError(f"expected a uint8 (H, W, 3) RGB image, got {pixels.dtype} {tuple(pixels.shape)}")
    batch = pixels.permute(2, 0, 1).unsqueeze(0)
    width, height = size
    if (pixels.shape[1], pixels.shape[0]) != (width, height):
        batch = F.interpolate(batch, size=(height, width), mode="bilinear", align_corners=False, antialias=True)
    return batch[0].contiguous().float().div_(255.0)


def paste(image: torch.Tensor, input_size: tuple[int, int], offset_x: int, offset_y: int) -> torch.Tensor:
    """``image`` on a grey canvas of ``input_size`` with its top-left at the offsets (cropped where it
    overflows)."""
    input_w, input_h = input_size
    canvas = torch.full((3, input_h, input_w), PAD_VALUE, dtype=image.dtype)
    src_x0, src_y0 = max(0, -offset_x), max(0, -offset_y)
    dst_x0, dst_y0 = max(0, offset_x), max(0, offset_y)
    width = min(image.shape[2] - src_x0, input_w - dst_x0)
    height = min(image.shape[1] - src_y0, input_h - dst_y0)
    if width > 0 and height > 0:
        canvas[:, dst_y0 : dst_y0 + height, dst_x0 : dst_x0 + width] = image[
            :, src_y0 : src_y0 + height, src_x0 : src_x0 + width
        ]
    return canvas


def letterbox_image(image: np.ndarray | torch.Tensor, input_size: tuple[int, int]) -> tuple[torch.Tensor, Placement]:
    """A uint8 ``(H, W, 3)`` image as the network's ``(3, h, w)`` float input, and where it was placed."""
    image_h, image_w = image.shape[0], image.shape[1]
    placement = fit_placement((image_w, image_h), input_size)
    resized = resize_to_float(image, (round(image_w * placement.scale), round(image_h * placement.scale)))
    return paste(resized, input_size, int(placement.offset_x), int(placement.offset_y)), placement
