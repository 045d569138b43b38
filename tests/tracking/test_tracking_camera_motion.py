"""Camera-motion compensation: the estimator recovers a known pan and zoom, and the tracker follows it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cvops.errors import InputError
from cvops.metrics import evaluate_sequence
from cvops.tracking import OnlineTracker, track_sequence
from cvops.tracking.camera_motion import CameraMotionConfig, CameraMotionEstimator, camera_motion_of_images
from cvops.tracking.kalman import KalmanBoxFilter, warp_states


def _scene_texture(seed: int = 0) -> np.ndarray:
    """A stadium-like picture: blocks of colour (a crowd) over smooth noise, 480 x 900 RGB."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 255, (60, 113, 3), dtype=np.uint8).repeat(8, axis=0).repeat(8, axis=1)[:, :900]
    return blocks


def _view(texture: np.ndarray, zoom: float, centre: tuple[float, float], size=(640, 360)) -> np.ndarray:
    """What a camera centred on ``centre`` (texture pixels) at ``zoom`` shows, ``size`` pixels."""
    import cv2

    shift = np.array(size) / 2 - zoom * np.asarray(centre)
    affine = np.array([[zoom, 0.0, shift[0]], [0.0, zoom, shift[1]]])
    return cv2.warpAffine(texture, affine, size, flags=cv2.INTER_LINEAR)


def test_estimator_recovers_a_pan_and_a_zoom() -> None:
    texture = _scene_texture()
    estimator = CameraMotionEstimator()
    first = estimator.estimate(_view(texture, 1.5, (450, 240)))
    np.testing.assert_allclose(first, np.eye(2, 3))  # nothing to compare the first frame with
    panned = estimator.estimate(_view(texture, 1.5, (455, 242)))  # 5 and 2 texture px: 7.5 and 3 frame px
    np.testing.assert_allclose(panned, [[1, 0, -7.5], [0, 1, -3.0]], atol=0.3)
    zoomed = estimator.estimate(_view(texture, 1.56, (455, 242)))  # 4 % closer about the frame's centre
    centre = np.array([320.0, 180.0])
    np.testing.assert_allclose(zoomed[:, :2], 1.04 * np.eye(2), atol=0.01)
    np.testing.assert_allclose(zoomed[:, :2] @ centre + zoomed[:, 2], centre, atol=0.5)
    assert estimator.failures == 0


def test_a_blank_picture_is_no_motion_and_bad_images_are_refused() -> None:
    blank = np.full((360, 640, 3), 90, np.uint8)
    motions = camera_motion_of_images([1, 3], [blank, blank])
    assert list(motions) == [1, 3] and all(np.allclose(m, np.eye(2, 3)) for m in motions.values())
    with pytest.raises(InputError) as caught:
        CameraMotionEstimator().estimate(np.zeros((10, 10, 4), np.uint8))
    assert caught.value.field == "image"
    with pytest.raises(InputError) as caught:
        CameraMotionConfig(window=4)
    assert caught.value.field == "window"


def test_warp_moves_centre_velocity_and_size_with_the_camera() -> None:
    kalman = KalmanBoxFilter(1 / 20, 1 / 160)
    means, covariances = kalman.initiate(np.array([[100.0, 50.0, 0.4, 20.0]]))
    means[0, 4:] = [2.0, 1.0, 0.0, 0.5]
    affine = np.array([[1.5, 0.0, -10.0], [0.0, 1.5, 4.0]])  # zoom in by half, then shift
    warped, warped_cov = warp_states(means, covariances, affine)
    np.testing.assert_allclose(warped[0], [140.0, 79.0, 0.4, 30.0, 3.0, 1.5, 0.0, 0.75])
    np.testing.assert_allclose(warped_cov[0, 0, 0], 1.5**2 * covariances[0, 0, 0])
    assert np.allclose(warped_cov, np.swapaxes(warped_cov, 1, 2))


def test_tracker_keeps_identities_through_a_sudden_pan_when_told_the_camera_motion() -> None:
    # Eight still players; from frame 20 the camera pans 10 px a frame, more than a box's width.
    rows, motion = [], {}
    for frame in range(1, 61):
        offset = 10.0 * max(0, frame - 20)
        if frame > 20:
            motion[frame] = np.array([[1.0, 0.0, 10.0], [0.0, 1.0, 0.0]])
        rows += [(frame, k + 1, 40.0 + 70 * k + offset, 200.0, 8.0, 20.0) for k in range(8)]
    gt = pd.DataFrame(rows, columns=["frame", "id", "x", "y", "w", "h"])
    dets = gt.drop(columns="id").assign(conf=0.9)
    compensated = evaluate_sequence(gt, track_sequence(dets, camera_motion=motion))
    blind = evaluate_sequence(gt, track_sequence(dets))
    assert compensated.idf1 == 1.0 and compensated.id_switches == 0
    assert blind.idf1 < 0.8
    with pytest.raises(InputError) as caught:
        OnlineTracker().update([[0, 0, 1, 1]], [0.9], [0], camera_motion=np.eye(3))
    assert caught.value.field == "camera_motion"
