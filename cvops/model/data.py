"""A torch ``Dataset`` over one split of a dataset version, with augmentation in torch.

Each item is the letterboxed (or augmented) image as a float ``(3, h, w)`` tensor in [0, 1] and its
:class:`~cvops.model.targets.SampleTargets`. Augmentation: random scale and placement (i.e. scale + crop/pad),
horizontal flip, brightness/contrast/saturation jitter.

Reproducibility: the training loader's sampler (:class:`SeededSampler`, in the main process) hands every item an
augmentation seed together with its index, and the item draws only from a generator with that seed. So a seeded
run gives the same batches whatever the number of workers, and touches no global RNG.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Sampler

from cvops.datasets.reader import open_folder
from cvops.errors import InputError
from cvops.model.geometry import check_input_size, fit_placement, letterbox_image, paste, resize_to_float
from cvops.model.identities import IdentityMap
from cvops.model.schema import CLASS_NAMES, is_sharded, manifest_path, read_labels, read_manifest
from cvops.model.targets import BatchTargets, SampleTargets, build_targets, collate_targets

LUMA_WEIGHTS = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)
MIN_VISIBLE_FRACTION = 0.5
"""A box cut by the image border or a crop is kept (clipped) only if at least this share of its area is in view."""


@dataclass(frozen=True)
class AugmentConfig:
    """Training-time augmentation. Scale multiplies the letterbox scale; the scaled image is then placed at a
    random position (cropped where it is larger than the input, padded where smaller)."""

    flip_probability: float = 0.5
    scale_range: tuple[float, float] = (0.8, 1.25)
    brightness: float = 0.25
    contrast: float = 0.25
    saturation: float = 0.3
    min_visible_fraction: float = MIN_VISIBLE_FRACTION


def _uniform(low: float, high: float, generator: torch.Generator) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def jitter_colour(image: torch.Tensor, config: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """Random brightness, contrast and saturation of a ``(3, H, W)`` image in [0, 1]."""
    image = image * _uniform(1 - config.brightness, 1 + config.brightness, generator)
    mean = image.mean()
    image = (image - mean) * _uniform(1 - config.contrast, 1 + config.contrast, generator) + mean
    gray = (image * LUMA_WEIGHTS).sum(dim=0, keepdim=True)
    image = (image - gray) * _uniform(1 - config.saturation, 1 + config.saturation, generator) + gray
    return image.clamp_(0.0, 1.0)


def clip_boxes(
    boxes: np.ndarray, input_size: tuple[int, int], min_visible_fraction: float
) -> tuple[np.ndarray, np.ndarray]:
    """Boxes clipped to the input, and which of them to keep (enough area in view, at least 1 px each way)."""
    x0 = np.clip(boxes[:, 0], 0, input_size[0])
    y0 = np.clip(boxes[:, 1], 0, input_size[1])
    x1 = np.clip(boxes[:, 0] + boxes[:, 2], 0, input_size[0])
    y1 = np.clip(boxes[:, 1] + boxes[:, 3], 0, input_size[1])
    clipped = np.stack([x0, y0, x1 - x0, y1 - y0], axis=1).astype(np.float32)
    area = boxes[:, 2] * boxes[:, 3]
    visible = clipped[:, 2] * clipped[:, 3]
    keep = (clipped[:, 2] >= 1) & (clipped[:, 3] >= 1) & (visible >= min_visible_fraction * area)
    return clipped, keep


def augment(
    image: np.ndarray,
    boxes: np.ndarray,
    input_size: tuple[int, int],
    config: AugmentConfig,
    generator: torch.Generator,
) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """Augmented input canvas, boxes in input pixels and the keep mask, from a uint8 ``(H, W, 3)`` image and
    its ``(N, 4)`` xywh boxes in image pixels."""
    image_h, image_w = image.shape[0], image.shape[1]
    scale = fit_placement((image_w, image_h), input_size).scale * _uniform(*config.scale_range, generator)
    new_w, new_h = max(1, round(image_w * scale)), max(1, round(image_h * scale))
    resized = jitter_colour(resize_to_float(image, (new_w, new_h)), config, generator)
    offsets = []
    for free in (input_size[0] - new_w, input_size[1] - new_h):
        low, high = min(0, free), max(0, free)
        offsets.append(int(torch.randint(low, high + 1, (), generator=generator)))
    canvas = paste(resized, input_size, offsets[0], offsets[1])
    moved = np.asarray(boxes, dtype=np.float32).reshape(-1, 4) * np.float32(scale)
    moved[:, 0] += offsets[0]
    moved[:, 1] += offsets[1]
    if float(torch.rand((), generator=generator)) < config.flip_probability:
        canvas = canvas.flip(-1)
        moved[:, 0] = input_size[0] - moved[:, 0] - moved[:, 2]
    clipped, keep = clip_boxes(moved, input_size, config.min_visible_fraction)
    return canvas, clipped, keep


@dataclass(frozen=True)
class FrameLabels:
    """The boxes of one frame, in image pixels."""

    boxes: np.ndarray  # (n, 4) float32 xywh
    classes: np.ndarray  # (n,) int64 index into CLASS_NAMES
    identities: np.ndarray  # (n,) int64, -1 where unknown


class DetectionDataset(Dataset[tuple[torch.Tensor, SampleTargets]]):
    """One split of a dataset version as (input image, targets) items.

    ``identity_map`` defaults to the map of this split's own labels (what training uses); pass the training
    map when reading val, so val objects of unseen identities get -1.
    """

    def __init__(
        self,
        root: Path,
        split: str,
        input_size: tuple[int, int],
        *,
        identity_map: IdentityMap | None = None,
        augment: AugmentConfig | None = None,
    ) -> None:
        self.root = Path(root)
        self.split = split
        self.input_size = check_input_size(input_size)
        self.augment = augment
        self.samples = read_manifest(self.root, split)
        labels = read_labels(self.root, split)
        self.identity_map = identity_map if identity_map is not None else IdentityMap.from_labels(labels)
        self._check_images_exist()
        # Random access to the images whatever the layout: a file per sample, or a pread in a tar shard.
        self._images = open_folder(self.root).images(self.samples)
        self._labels = self._group_labels(labels)

    def _check_images_exist(self) -> None:
        if is_sharded(self.root):
            for shard in self.samples["shard"].unique():
                if not (self.root / shard).is_file():
                    raise InputError(
                        f"shard {shard!r} listed in the manifest is missing (split {self.split!r})",
                        file=self.root / shard,
                        field="shard",
                    )
            return
        for row, relative in enumerate(self.samples["path"], start=1):
            if not (self.root / relative).is_file():
                raise InputError(
                    f"image {relative!r} listed in the manifest is missing (split {self.split!r})",
                    file=manifest_path(self.root),
                    field="path",
                    row=row,
                )

    def _group_labels(self, labels: pd.DataFrame) -> dict[tuple[str, int], FrameLabels]:
        labels = labels.assign(identity=self.identity_map.lookup(labels["match_id"], labels["track_id"]))
        grouped: dict[tuple[str, int], FrameLabels] = {}
        for (match_id, frame), rows in labels.groupby(["match_id", "frame"], sort=False):
            grouped[(str(match_id), int(frame))] = FrameLabels(
                boxes=rows[["x", "y", "w", "h"]].to_numpy(np.float32),
                classes=rows["cls"].to_numpy(np.int64),
                identities=rows["identity"].to_numpy(np.int64),
            )
        return grouped

    def __len__(self) -> int:
        return len(self.samples)

    def key(self, index: int) -> tuple[str, int]:
        """(match_id, frame) of item ``index``."""
        row = self.samples.iloc[index]
        return str(row["match_id"]), int(row["frame"])

    def frame_labels(self, index: int) -> FrameLabels:
        """The labelled boxes of item ``index`` in its image's own pixels (what evaluation compares
        against)."""
        empty = FrameLabels(np.zeros((0, 4), np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64))
        return self._labels.get(self.key(index), empty)

    def load_image(self, index: int) -> np.ndarray:
        """The item's image as uint8 ``(H, W, 3)`` RGB."""
        try:
            with Image.open(io.BytesIO(self._images.read(index))) as image:
                return np.array(image.convert("RGB"))
        except OSError as exc:
            raise InputError(
                f"cannot decode image: {exc}", file=self.root / str(self.samples["path"].iloc[index])
            ) from exc

    def __getitem__(self, item: int | tuple[int, int]) -> tuple[torch.Tensor, SampleTargets]:
        """Item ``index`` or ``(index, augmentation_seed)`` (what :class:`SeededSampler` yields)."""
        index, seed = item if isinstance(item, tuple) else (item, None)
        labels = self.frame_labels(index)
        image = self.load_image(index)
        if self.augment is None:
            canvas, placement = letterbox_image(image, self.input_size)
            input_boxes = placement.boxes_to_input(labels.boxes)
            boxes, keep = clip_boxes(input_boxes, self.input_size, MIN_VISIBLE_FRACTION)
        else:
            generator = torch.Generator()
            generator.manual_seed(seed if seed is not None else int(torch.randint(2**62, ())))
            canvas, boxes, keep = augment(image, labels.boxes, self.input_size, self.augment, generator)
        targets = build_targets(
            boxes[keep], labels.classes[keep], labels.identities[keep], self.input_size, len(CLASS_NAMES)
        )
        return canvas, targets


class SeededSampler(Sampler[tuple[int, int]]):
    """Yields ``(index, augmentation seed)`` for every item, shuffled or in order, from one seeded generator;
    each pass (epoch) continues the generator, so epochs differ but a run is reproducible."""

    def __init__(self, size: int, *, shuffle: bool, seed: int) -> None:
        self.size = size
        self.shuffle = shuffle
        self.generator = torch.Generator()
        self.generator.manual_seed(seed)

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[tuple[int, int]]:
        order = torch.randperm(self.size, generator=self.generator) if self.shuffle else torch.arange(self.size)
        seeds = torch.randint(2**62, (self.size,), generator=self.generator)
        return iter(zip(order.tolist(), seeds.tolist(), strict=True))


def collate(items: Sequence[tuple[torch.Tensor, SampleTargets]]) -> tuple[torch.Tensor, BatchTargets]:
    images = torch.stack([image for image, _ in items])
    return images, collate_targets([targets for _, targets in items])


def make_loader(
    dataset: DetectionDataset,
    batch_size: int,
    *,
    shuffle: bool,
    num_workers: int,
    seed: int,
    pin_memory: bool,
) -> DataLoader[tuple[torch.Tensor, BatchTargets]]:
    """A DataLoader whose order and augmentations derive from ``seed`` alone (see :class:`SeededSampler`).

    When shuffling (training) over more than one batch, the last partial batch is dropped, so batch norm never
    sees a batch of one image.
    """
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=SeededSampler(len(dataset), shuffle=shuffle, seed=seed),
        num_workers=num_workers,
        collate_fn=collate,
        pin_memory=pin_memory,
        drop_last=shuffle and len(dataset) > batch_size,
        persistent_workers=num_workers > 0,
    )
