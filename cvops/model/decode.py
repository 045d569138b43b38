"""From network outputs to detections: heatmap peaks become boxes with a class, a confidence and an embedding.

As in CenterNet, a peak is a heatmap cell equal to the max of its 3x3 neighbourhood (a max-pool replaces
box NMS). One extra rule: at a given cell only the most confident class is kept, so a player is not also
reported as a low-confidence goalkeeper at the same spot (the tracker would open a second track for it).
Peaks of different classes at different cells are untouched, so the ball at a player's feet survives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from cvops.model.device import settings_for_device
from cvops.model.geometry import Placement, letterbox_image
from cvops.model.network import gather_cells

DETECTION_COLUMNS = ("x", "y", "w", "h", "conf", "cls", "role", "embedding")


@dataclass(frozen=True)
class RawDetections:
    """Detections of one image in input pixels, sorted by decreasing confidence."""

    boxes: np.ndarray  # (n, 4) float32 xywh
    scores: np.ndarray  # (n,) float32
    classes: np.ndarray  # (n,) int64
    embeddings: np.ndarray  # (n, D) float32, L2-normalised


def heatmap_peaks(heatmap_logits: torch.Tensor) -> torch.Tensor:
    """Sigmoid scores kept only at 3x3 local maxima that are also the best class at their cell; else 0."""
    heat = torch.sigmoid(heatmap_logits.float())
    is_peak = F.max_pool2d(heat, kernel_size=3, stride=1, padding=1) == heat
    is_best_class = heat == heat.amax(dim=1, keepdim=True)
    return heat * (is_peak & is_best_class)


@torch.no_grad()
def decode_outputs(
    model: nn.Module, outputs: dict[str, torch.Tensor], *, conf_threshold: float, max_detections: int = 100
) -> list[RawDetections]:
    """Top ``max_detections`` peaks per image above ``conf_threshold``, boxes in input pixels.

    ``model`` supplies the output ``stride`` and :meth:`~cvops.model.network.CenterTrackNet.embed`, which turns
    the embedding features at the peaks into re-ID vectors.
    """
    peaks = heatmap_peaks(outputs["heatmap"])
    batch, num_classes, height, width = peaks.shape
    k = min(max_detections, num_classes * height * width)
    scores, flat = peaks.reshape(batch, -1).topk(k)
    classes = flat // (height * width)
    cells = flat % (height * width)
    stride = int(model.stride)
    box = gather_cells(outputs["box"].float(), cells)
    size = box[..., :2].clamp(min=0) * stride
    center_x = ((cells % width).float() + box[..., 2]) * stride
    center_y = ((cells // width).float() + box[..., 3]) * stride
    boxes = torch.stack([center_x - size[..., 0] / 2, center_y - size[..., 1] / 2, size[..., 0], size[..., 1]], -1)
    embeddings = F.normalize(model.embed(outputs["embedding_features"], cells).float(), dim=-1)
    results = []
    for row in range(batch):
        keep = scores[row] >= conf_threshold
        results.append(
            RawDetections(
                boxes=boxes[row][keep].cpu().numpy(),
                scores=scores[row][keep].cpu().numpy(),
                classes=classes[row][keep].cpu().numpy().astype(np.int64),
                embeddings=embeddings[row][keep].cpu().numpy(),
            )
        )
    return results


def detections_frame(raw: RawDetections, placement: Placement, class_names: list[str]) -> pd.DataFrame:
    """One image's detections in its own pixels as a DataFrame (columns :data:`DETECTION_COLUMNS`)."""
    boxes = placement.boxes_to_image(raw.boxes)
    return pd.DataFrame(
        {
            "x": boxes[:, 0],
            "y": boxes[:, 1],
            "w": boxes[:, 2],
            "h": boxes[:, 3],
            "conf": raw.scores,
            "cls": raw.classes,
            "role": pd.Series([class_names[c] for c in raw.classes], dtype=object),
            "embedding": pd.Series(list(raw.embeddings), dtype=object),
        },
        columns=list(DETECTION_COLUMNS),
    )


def _as_image_list(images: np.ndarray | torch.Tensor | list[np.ndarray]) -> list[np.ndarray | torch.Tensor]:
    if isinstance(images, list):
        return images
    if images.ndim == 3:
        return [images]
    if images.ndim == 4:
        return list(images)
    raise ValueError(f"expected (H, W, 3) or (N, H, W, 3) uint8 images, got shape {tuple(images.shape)}")


@torch.no_grad()
def detect(
    model: nn.Module,
    images: np.ndarray | torch.Tensor | list[np.ndarray],
    conf_threshold: float = 0.3,
    *,
    max_detections: int = 100,
    batch_size: int = 16,
) -> list[pd.DataFrame]:
    """Detections per image: boxes ``x, y, w, h`` (top-left, the image's own pixels), ``conf``, ``cls``
    (index into the model's ``class_names``), ``role`` (the class name) and ``embedding`` (an L2-normalised
    float32 vector).

    ``images``: uint8 RGB, one ``(H, W, 3)`` image, an ``(N, H, W, 3)`` batch or a list (sizes may differ).
    ``model`` is a :class:`~cvops.model.network.CenterTrackNet` or its TorchScript export; it is switched to
    eval mode. Runs on the model's device, under autocast on CUDA.
    """
    model.eval()
    settings = settings_for_device(next(model.parameters()).device)
    input_size = (int(model.input_size[0]), int(model.input_size[1]))
    class_names = list(model.class_names)
    image_list = _as_image_list(images)
    frames: list[pd.DataFrame] = []
    for start in range(0, len(image_list), batch_size):
        prepared = [letterbox_image(image, input_size) for image in image_list[start : start + batch_size]]
        batch = torch.stack([canvas for canvas, _ in prepared])
        batch = batch.to(settings.device, memory_format=settings.memory_format)
        with settings.autocast():
            outputs = model(batch)
            raw = decode_outputs(model, outputs, conf_threshold=conf_threshold, max_detections=max_detections)
        frames.extend(
            detections_frame(detections, placement, class_names)
            for detections, (_, placement) in zip(raw, prepared, strict=True)
        )
    return frames
