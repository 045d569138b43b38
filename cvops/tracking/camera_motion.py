"""Camera motion between consecutive frames, for the tracker's compensation (BoT-SORT's "CMC").

A broadcast camera pans and zooms, which moves every box at once; the tracker's Kalman filter predicts each
player's box where it would be had the camera held still, and the IoU with the detection collapses during a fast
pan. :class:`CameraMotionEstimator` measures the camera's motion from the pictures themselves, the way BoT-SORT's
default (``sparseOptFlow``) does: corners of the previous frame (Shi-Tomasi, ``cv2.goodFeaturesToTrack``) are
followed into the current one by pyramidal Lucas-Kanade optical flow (``cv2.calcOpticalFlowPyrLK``), and one
similarity transform (shift, zoom, a little rotation) is fitted to the pairs with RANSAC
(``cv2.estimateAffinePartial2D``), so that corners on running players and on rain streaks count as outliers.
Frames are analysed in grey at ``CameraMotionConfig.width`` pixels wide: the global motion does not need more,
and a 1080p frame costs as little as a 360p one.

OpenCV rather than numpy by hand: its corner detector, pyramidal flow and RANSAC fit are the reference
implementations BoT-SORT and Roboflow's ``trackers`` use, and it is already installed with TrackEval (which
depends on ``opencv-python``; the ``-headless`` build would be a second copy of the same ``cv2`` package). It is
imported only when motion is estimated.

The tracker takes the result as ``OnlineTracker.update(..., camera_motion=affine)`` and ``track_sequence(...,
camera_motion={frame: affine})``: a (2, 3) matrix from the previous stepped frame's pixels to this frame's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from cvops.errors import InputError

IDENTITY = np.eye(2, 3)


@dataclass(frozen=True)
class CameraMotionConfig:
    """How camera motion is estimated between two frames."""

    width: int = 320
    """Frames are analysed in grey at this width (aspect kept; narrower frames as they are)."""
    max_corners: int = 200
    """Corners followed from one frame to the next (``goodFeaturesToTrack``'s ``maxCorners``); the flow's cost
    grows with them, and a similarity transform needs far fewer."""
    quality_level: float = 0.01
    """Weakest corner kept, relative to the strongest (``qualityLevel``)."""
    min_distance: int = 4
    """Smallest distance between two corners, in analysis pixels (``minDistance``)."""
    window: int = 15
    """Side of the Lucas-Kanade window, in analysis pixels (``winSize``; OpenCV's default 21 costs twice as much
    for the same motion here)."""
    pyramid_levels: int = 2
    """Pyramid levels of the flow (``maxLevel``): with a 15 px window, motions up to about 30 analysis pixels a
    frame, far more than a broadcast pan."""
    ransac_threshold: float = 1.0
    """A corner pair further than this (analysis pixels) from the fitted motion is an outlier."""
    min_inliers: int = 12
    """Fewer inlier pairs than this: too little evidence, the motion is taken as none (identity)."""

    def __post_init__(self) -> None:
        checks = (
            (self.width >= 32, "width", "must be at least 32"),
            (self.max_corners >= 4, "max_corners", "must be at least 4"),
            (0.0 < self.quality_level < 1.0, "quality_level", "must be strictly between 0 and 1"),
            (self.min_distance >= 1, "min_distance", "must be at least 1"),
            (self.window >= 3 and self.window % 2 == 1, "window", "must be odd and at least 3"),
            (self.pyramid_levels >= 0, "pyramid_levels", "must be >= 0"),
            (self.ransac_threshold > 0, "ransac_threshold", "must be > 0"),
            (self.min_inliers >= 3, "min_inliers", "must be at least 3"),
        )
        for ok, name, message in checks:
            if not ok:
                raise InputError(f"{message}, got {getattr(self, name)!r}", field=name)


class CameraMotionEstimator:
    """Feed the frames of one video in order to :meth:`estimate`; each call returns the camera's motion since
    the previous call as a (2, 3) affine transform of pixels (identity for the first frame)."""

    def __init__(self, config: CameraMotionConfig | None = None) -> None:
        import cv2  # heavy (tens of ms): only where motion is estimated

        self._cv2 = cv2
        self.config = config if config is not None else CameraMotionConfig()
        self.reset()

    def reset(self) -> None:
        """Forget the previous frame (a new video, or a cut)."""
        self._previous: NDArray[np.uint8] | None = None
        self.failures = 0
        """Frames whose motion could not be measured (too few corners or inliers) and were taken as identity."""

    def estimate(self, image: NDArray[np.uint8], *, full_size: tuple[int, int] | None = None) -> NDArray[np.float64]:
        """The motion from the previous frame to ``image`` (RGB ``(H, W, 3)`` or grey ``(H, W)``, uint8), in the
        frame's pixels. ``full_size``: the frame's ``(width, height)`` when ``image`` is a copy the caller already
        scaled down (a decoder's scaler), so the motion is returned in the frame's pixels all the same."""
        grey, scale = self._analysis_image(image)
        if full_size is not None:
            scale = (grey.shape[1] / full_size[0], grey.shape[0] / full_size[1])
        previous, self._previous = self._previous, grey
        if previous is None or previous.shape != grey.shape:
            return IDENTITY.copy()
        motion = self._fit(previous, grey)
        if motion is None:
            self.failures += 1
            return IDENTITY.copy()
        return _to_full_resolution(motion, scale)

    def _analysis_image(self, image: NDArray[np.uint8]) -> tuple[NDArray[np.uint8], tuple[float, float]]:
        cv2 = self._cv2
        array = np.asarray(image)
        if array.dtype != np.uint8 or array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3):
            raise InputError(f"expected a uint8 RGB or grey image, got {array.dtype} {array.shape}", field="image")
        grey = cv2.cvtColor(array, cv2.COLOR_RGB2GRAY) if array.ndim == 3 else array
        height, width = grey.shape
        if width <= self.config.width:
            return np.ascontiguousarray(grey), (1.0, 1.0)
        new_width = self.config.width
        new_height = max(1, round(height * new_width / width))
        small = cv2.resize(grey, (new_width, new_height), interpolation=cv2.INTER_AREA)
        return small, (new_width / width, new_height / height)

    def _fit(self, previous: NDArray[np.uint8], current: NDArray[np.uint8]) -> NDArray[np.float64] | None:
        cv2 = self._cv2
        cfg = self.config
        corners = cv2.goodFeaturesToTrack(
            previous, maxCorners=cfg.max_corners, qualityLevel=cfg.quality_level, minDistance=cfg.min_distance
        )
        if corners is None or len(corners) < cfg.min_inliers:
            return None
        followed, status, _ = cv2.calcOpticalFlowPyrLK(
            previous, current, corners, None, winSize=(cfg.window, cfg.window), maxLevel=cfg.pyramid_levels
        )
        if followed is None or status is None:
            return None
        found = status.reshape(-1) == 1
        if found.sum() < cfg.min_inliers:
            return None
        motion, inliers = cv2.estimateAffinePartial2D(
            corners[found], followed[found], method=cv2.RANSAC, ransacReprojThreshold=cfg.ransac_threshold
        )
        if motion is None or inliers is None or int(inliers.sum()) < cfg.min_inliers:
            return None
        return motion.astype(np.float64)


def _to_full_resolution(motion: NDArray[np.float64], scale: tuple[float, float]) -> NDArray[np.float64]:
    """``S^-1 M S`` for the analysis scaling ``S``: the same motion in the original frame's pixels."""
    to_small = np.diag([scale[0], scale[1], 1.0])
    full = np.linalg.inv(to_small) @ np.vstack([motion, [0.0, 0.0, 1.0]]) @ to_small
    return full[:2]


def camera_motion_of_images(
    frames: Sequence[int], images: Iterable[NDArray[np.uint8]], config: CameraMotionConfig | None = None
) -> dict[int, NDArray[np.float64]]:
    """The motion into each of ``frames`` from the one before it in the list, measured on ``images`` (one per
    frame, in the same order): what ``track_sequence(..., frames=frames, camera_motion=...)`` takes. A strided
    clip's motion is measured between its own consecutive frames."""
    estimator = CameraMotionEstimator(config)
    motions = {int(frame): estimator.estimate(image) for frame, image in zip(frames, images, strict=True)}
    return motions


def camera_motion_of_video(
    video: str | Path, frames: Iterable[int] | None = None, config: CameraMotionConfig | None = None
) -> dict[int, NDArray[np.float64]]:
    """Decode ``video`` (any container PyAV reads) and measure the camera motion into each of ``frames``
    (1-based, sorted, from the previous one listed; default: every frame). Frames are decoded in order and
    scaled to grey at the analysis width by the decoder itself."""
    from cvops.video.decode import decoded_frames  # PyAV is a heavy import, only where a video is read

    wanted = None if frames is None else sorted({int(f) for f in frames})
    estimator = CameraMotionEstimator(config)
    motions: dict[int, NDArray[np.float64]] = {}
    with closing(decoded_frames(video)) as decoded:  # closes the video when the last wanted frame came early
        for frame_number, image, size in _grey_frames(decoded, estimator.config.width, wanted):
            motions[frame_number] = estimator.estimate(image, full_size=size)
    missing = [] if wanted is None else sorted(set(wanted) - motions.keys())
    if missing:
        raise InputError(f"the video has {max(motions, default=0)} frames; frame {missing[0]} is not in it", file=video)
    return motions


def _grey_frames(
    decoded: Iterator, width: int, wanted: list[int] | None
) -> Iterator[tuple[int, NDArray[np.uint8], tuple[int, int]]]:
    """``(frame number, grey image at most ``width`` wide, the frame's own size)`` of the wanted frames of
    ``decoded`` (``(frame number, frame)`` pairs); the decoder's scaler makes the small grey copy, cheaper than
    converting the full RGB frame."""
    wanted_set = None if wanted is None else set(wanted)
    last = None if wanted is None else (wanted[-1] if wanted else 0)
    for number, frame in decoded:
        if last is not None and number > last:
            return
        if wanted_set is not None and number not in wanted_set:
            continue
        size = (frame.width, frame.height)
        if frame.width > width:
            height = max(1, round(frame.height * width / frame.width))
            yield number, frame.reformat(width=width, height=height, format="gray").to_ndarray(), size
        else:
            yield number, frame.to_ndarray(format="gray"), size
