"""Dataset reading, augmentation geometry, identity maps and input errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch

from cvops.errors import InputError
from cvops.model.data import AugmentConfig, DetectionDataset, augment, make_loader
from cvops.model.dataset_folder import DatasetSample, write_dataset_folder
from cvops.model.geometry import fit_placement, letterbox_image
from cvops.model.identities import IdentityMap
from cvops.model.schema import labels_path, manifest_path
from cvops.model.toy_data import write_toy_dataset

RED = (255, 0, 0)
GEOMETRY_ONLY = AugmentConfig(brightness=0.0, contrast=0.0, saturation=0.0, min_visible_fraction=0.99)


def rng(seed: int) -> torch.Generator:
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def red_box_image(box: tuple[int, int, int, int], size: tuple[int, int] = (128, 96)) -> np.ndarray:
    """A grey-blue image with a pure red box, so the box can be found in any transformed image."""
    image = np.full((size[1], size[0], 3), (60, 70, 200), np.uint8)
    x, y, w, h = box
    image[y : y + h, x : x + w] = RED
    return image


def red_fraction(canvas: torch.Tensor, box: np.ndarray) -> float:
    x, y, w, h = (round(float(v)) for v in box)
    region = canvas[:, y : y + h, x : x + w]
    is_red = (region[0] > 0.8) & (region[1] < 0.2) & (region[2] < 0.2)
    return float(is_red.float().mean())


@pytest.mark.parametrize("seed", range(6))
def test_augmented_boxes_stay_on_their_object(seed: int) -> None:
    box = (20, 30, 16, 24)
    image = red_box_image(box)
    canvas, boxes, keep = augment(image, np.array([box], np.float32), (96, 64), GEOMETRY_ONLY, rng(seed))
    assert canvas.shape == (3, 64, 96)
    if keep[0]:
        # The inner part of the box (its border pixels are blended by resizing) is red.
        inner = boxes[0] + np.array([1, 1, -2, -2])
        assert red_fraction(canvas, inner) > 0.95


def test_flip_mirrors_the_box() -> None:
    box = (10, 20, 12, 18)
    image = red_box_image(box, size=(96, 64))
    flip = AugmentConfig(flip_probability=1.0, scale_range=(1.0, 1.0), brightness=0, contrast=0, saturation=0)
    canvas, boxes, keep = augment(image, np.array([box], np.float32), (96, 64), flip, rng(0))
    assert keep.tolist() == [True]
    np.testing.assert_allclose(boxes[0], [96 - 10 - 12, 20, 12, 18])
    assert red_fraction(canvas, boxes[0]) == 1.0
    assert red_fraction(canvas, np.array(box)) == 0.0


def test_boxes_mostly_cropped_away_are_dropped() -> None:
    image = red_box_image((0, 0, 8, 8), size=(96, 64))
    zoom = AugmentConfig(flip_probability=0.0, scale_range=(1.0, 1.0), brightness=0, contrast=0, saturation=0)
    boxes = np.array([[-6, 10, 8, 8], [40, 20, 8, 8]], np.float32)  # the first is 75% outside the image
    _, _, keep = augment(image, boxes, (96, 64), zoom, rng(0))
    assert keep.tolist() == [False, True]


def test_colour_jitter_keeps_pixels_in_range() -> None:
    image = red_box_image((10, 10, 20, 20))
    strong = AugmentConfig(brightness=0.9, contrast=0.9, saturation=0.9)
    canvas, _, _ = augment(image, np.zeros((0, 4), np.float32), (128, 96), strong, rng(1))
    assert float(canvas.min()) >= 0.0 and float(canvas.max()) <= 1.0


def test_letterbox_centres_the_image_and_inverts() -> None:
    canvas, placement = letterbox_image(np.zeros((90, 160, 3), np.uint8), (128, 128))
    assert canvas.shape == (3, 128, 128)
    assert placement.scale == pytest.approx(0.8)
    assert placement.offset_y == (128 - 72) // 2
    assert float(canvas[:, 0, 0].mean()) == pytest.approx(0.5)  # padding band
    assert float(canvas[:, 64, 64].mean()) == 0.0  # the (black) image
    boxes = np.array([[10.0, 20.0, 30.0, 40.0]], np.float32)
    np.testing.assert_allclose(placement.boxes_to_image(placement.boxes_to_input(boxes)), boxes, atol=1e-5)


def test_dataset_item_has_peaks_at_letterboxed_centres(tmp_path: Path) -> None:
    boxes = pd.DataFrame({"track_id": [1], "role": ["referee"], "x": [40.0], "y": [20.0], "w": [16.0], "h": [32.0]})
    sample = DatasetSample("m1", 1, "train", red_box_image((40, 20, 16, 32), size=(128, 64)), boxes)
    root = write_dataset_folder(tmp_path / "ds", [sample])
    image, targets = DetectionDataset(root, "train", (64, 64))[0]
    placement = fit_placement((128, 64), (64, 64))
    centre = placement.boxes_to_input(boxes[["x", "y", "w", "h"]].to_numpy())[0]
    cx, cy = (centre[0] + centre[2] / 2) / 4, (centre[1] + centre[3] / 2) / 4
    assert image.shape == (3, 64, 64)
    assert targets.heatmap[2, int(cy), int(cx)] == 1.0
    assert targets.identity.tolist() == [0]


def test_identity_map_is_sorted_and_independent_of_row_order() -> None:
    labels = pd.DataFrame({"match_id": ["b", "a", "b", "a", "a"], "track_id": [3, 9, 1, 2, 9]})
    forward = IdentityMap.from_labels(labels)
    shuffled = IdentityMap.from_labels(labels.sample(frac=1.0, random_state=4))
    assert forward == shuffled
    assert forward.keys == (("a", 2), ("a", 9), ("b", 1), ("b", 3))
    assert forward.lookup(["b", "a", "c"], [3, 2, 1]).tolist() == [3, 0, -1]
    assert IdentityMap.from_records(forward.to_records()) == forward


def test_training_identity_map_spans_the_train_split(tmp_path: Path) -> None:
    root = write_toy_dataset(tmp_path / "ds", frames_per_match=2, n_players=2)
    train = DetectionDataset(root, "train", (160, 96))
    assert len(train.identity_map) == 2 * (2 + 3)  # two train matches, 2 players + keeper, referee, ball each
    val = DetectionDataset(root, "val", (160, 96), identity_map=train.identity_map)
    assert val.frame_labels(0).identities.tolist() == [-1] * 5


def test_loader_is_reproducible_from_its_seed_with_or_without_workers(tmp_path: Path) -> None:
    root = write_toy_dataset(tmp_path / "ds", frames_per_match=4, n_players=2)
    dataset = DetectionDataset(root, "train", (160, 96), augment=AugmentConfig())

    def first_batch(seed: int, workers: int) -> tuple[torch.Tensor, torch.Tensor]:
        loader = make_loader(dataset, 4, shuffle=True, num_workers=workers, seed=seed, pin_memory=False)
        images, targets = next(iter(loader))
        return images, targets.heatmap

    reference = first_batch(7, 0)
    torch.manual_seed(123)  # the global RNG plays no part
    for images, heatmap in (first_batch(7, 0), first_batch(7, 1)):
        torch.testing.assert_close(images, reference[0])
        torch.testing.assert_close(heatmap, reference[1])
    assert not torch.equal(first_batch(8, 0)[0], reference[0])


def test_missing_manifest_column_names_the_field(tmp_path: Path) -> None:
    root = write_toy_dataset(tmp_path / "ds", frames_per_match=1, n_players=1)
    table = pq.read_table(manifest_path(root)).drop_columns(["md5"])
    pq.write_table(table, manifest_path(root))
    with pytest.raises(InputError, match="md5") as info:
        DetectionDataset(root, "train", (160, 96))
    assert info.value.field == "md5"


def test_bad_box_names_file_row_and_field(tmp_path: Path) -> None:
    root = write_toy_dataset(tmp_path / "ds", frames_per_match=1, n_players=1)
    labels = pq.read_table(labels_path(root, "train")).to_pandas()
    labels.loc[2, "h"] = -3.0
    labels.to_parquet(labels_path(root, "train"), index=False)
    with pytest.raises(InputError) as info:
        DetectionDataset(root, "train", (160, 96))
    assert (info.value.row, info.value.field) == (3, "h")
    assert info.value.file is not None and info.value.file.endswith("train.parquet")


def test_missing_image_names_its_manifest_row(tmp_path: Path) -> None:
    root = write_toy_dataset(tmp_path / "ds", frames_per_match=2, n_players=1)
    (root / "images" / "toy-01" / "000002.jpg").unlink()
    with pytest.raises(InputError, match=r"000002\.jpg") as info:
        DetectionDataset(root, "train", (160, 96))
    assert (info.value.row, info.value.field) == (4, "path")
