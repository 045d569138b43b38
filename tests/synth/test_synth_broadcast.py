"""The broadcast camera: the picture pans and zooms after the ball, and everything labelled moves with it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cvops.errors import InputError
from cvops.synth import SynthConfig, generate_store
from cvops.synth.camera import Camera, CameraPath
from cvops.synth.league import make_fixture
from cvops.synth.scene import build_scene, image_boxes
from cvops.tracking.camera_motion import camera_motion_of_video

BROADCAST = SynthConfig(n_matches=1, seconds=2, width=320, height=180, fps=25, gop=25, seed=3, camera="broadcast")


@pytest.fixture(scope="module")
def broadcast_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("broadcast")
    generate_store(out, BROADCAST)
    return out


def test_boxes_follow_the_camera_and_the_static_view_is_unchanged() -> None:
    fixture = make_fixture(BROADCAST, 0)
    camera = Camera(BROADCAST.width, BROADCAST.height, fixture.stadium.view)
    scene = build_scene(BROADCAST, fixture)
    wide = image_boxes(scene, camera)
    path = CameraPath(np.full(scene.n_frames, 2.0), np.tile([80.0, 45.0], (scene.n_frames, 1)), 320, 180)
    zoomed = image_boxes(scene, camera, path)
    # Zoom 2 about wide-view pixel (80, 45): that pixel lands at the picture's centre, sizes double.
    np.testing.assert_allclose(zoomed.foot, 2.0 * (wide.foot - [80.0, 45.0]) + [160.0, 90.0])
    people = [i for i, actor in enumerate(scene.actors) if actor.role != "ball"]  # a ball is drawn >= 3 px
    np.testing.assert_allclose(zoomed.drawn[:, people, 2:], 2.0 * wide.drawn[:, people, 2:])
    np.testing.assert_allclose(zoomed.wide_foot, wide.foot)
    assert zoomed.visible.sum() < wide.visible.sum()  # the zoomed picture shows only part of the pitch
    np.testing.assert_allclose(path.frame_to_frame(5), np.eye(2, 3), atol=1e-12)


@pytest.mark.slow
def test_broadcast_store_records_the_camera_and_its_video_shows_that_motion(broadcast_store: Path) -> None:
    camera = pd.read_csv(broadcast_store / "_truth" / "m0000" / "camera.csv")
    assert list(camera.columns) == ["frame", "zoom", "centre_x", "centre_y"] and len(camera) == BROADCAST.n_frames
    assert camera["zoom"].between(1.3, 2.1).all() and camera["centre_x"].diff().abs().max() > 0
    centres = camera[["centre_x", "centre_y"]].to_numpy()
    path = CameraPath(camera["zoom"].to_numpy(), centres, BROADCAST.width, BROADCAST.height)
    measured = camera_motion_of_video(broadcast_store / "videos" / "m0000.mp4")
    points = np.array([[50.0, 40.0], [160.0, 90.0], [270.0, 150.0]])
    errors = [
        np.abs((points @ measured[f][:, :2].T + measured[f][:, 2]) - (points @ true[:, :2].T + true[:, 2])).max()
        for f in range(2, BROADCAST.n_frames + 1)
        for true in [path.frame_to_frame(f - 1)]
    ]
    assert np.median(errors) < 0.5  # pixels: the picture moves as the truth says


def test_static_stores_have_no_camera_file_and_unknown_cameras_are_refused(tmp_path: Path) -> None:
    generate_store(tmp_path, SynthConfig(n_matches=1, seconds=1, width=128, height=72, fps=10, gop=10))
    assert not (tmp_path / "_truth" / "m0000" / "camera.csv").exists()
    with pytest.raises(InputError) as caught:
        SynthConfig(camera="drone")
    assert caught.value.field == "camera"
