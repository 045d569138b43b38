"""The preview image: boxes in each track's colour on the sampled frames."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cvops.video import render_preview
from cvops.video.preview import track_colour


@pytest.fixture
def images(tmp_path):
    paths = []
    for frame in (10, 20, 30):
        path = tmp_path / f"{frame}.jpg"
        Image.new("RGB", (1280, 720), (20, 90, 20)).save(path)
        paths.append((frame, path))
    return paths


def test_boxes_are_drawn_in_their_track_colour(images) -> None:
    boxes = pd.DataFrame(
        {"frame": [10, 10, 20], "track_id": [7, 8, 7], "role": ["player", "goalkeeper", "player"],
         "x": [100.0, 600, 300], "y": [200.0, 300, 100], "w": [80.0, 60, 80], "h": [160.0, 150, 160]}
    )  # fmt: skip
    png = render_preview(images, boxes, width=640)
    sheet = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert sheet.shape[1] == 2 * 640  # two tiles per row, two rows for three images
    assert sheet.shape[0] == 2 * (360 + 22)
    # The left edge of track 7's box in frame 10 (x=100 -> 50 px at half size), below the caption.
    left_edge = sheet[22 + 100 + 40, 50]
    assert tuple(left_edge) == track_colour(7)
    assert track_colour(7) != track_colour(8)


def test_at_most_max_images_and_validation(images) -> None:
    boxes = pd.DataFrame(columns=["frame", "track_id", "role", "x", "y", "w", "h"])
    png = render_preview(images, boxes, max_images=1, width=320)
    assert Image.open(io.BytesIO(png)).size == (320, 180 + 22)
    with pytest.raises(ValueError, match="lack columns"):
        render_preview(images, boxes.drop(columns=["role"]))
    with pytest.raises(ValueError, match="no images"):
        render_preview([], boxes)
