"""The pitch and the broadcast camera that films it: a static wide view, optionally panned and zoomed.

World coordinates are metres on the ground plane: ``X`` along the pitch (0 = left goal line, 105 = right one),
``Y`` across it (0 = far touchline, at the top of the image; 68 = near touchline, at the bottom). The camera is a
homography from the ground plane to the image, fixed by where the four pitch corners appear: the far touchline is
higher and shorter than the near one, so the far half of the pitch is foreshortened and objects there are drawn
smaller, as from a camera on the main stand.

Figures are drawn about 2.4 times taller than a real person would be at this zoom (``figure_height_m``): a
whole-pitch view at 640 x 360 would make players 10 px tall, too small for a small CNN to learn and for a person
to check. Their ground position, speed and the geometry of the pitch stay metric.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Broadcast camera: zoom range relative to the wide view, how fast the zoom breathes, and how the operator
# follows the ball (a critically damped spring: the picture lags the ball by about this many seconds).
BROADCAST_ZOOM = (1.3, 2.1)
ZOOM_PERIOD_S = (8.0, 16.0)
FOLLOW_LAG_S = 0.6

PITCH_LENGTH = 105.0
PITCH_WIDTH = 68.0
GOAL_HALF_WIDTH = 3.66
GOAL_HEIGHT_M = 2.44
REAL_PERSON_HEIGHT_M = 1.8

# Height of a figure at the near touchline as a share of the image height (see module docstring).
NEAR_FIGURE_HEIGHT_SHARE = 0.07
# Figures are this wide for their height; the ball's diameter is this share of a figure's height at its place.
FIGURE_ASPECT = 0.42
BALL_SHARE_OF_FIGURE = 0.2


def _homography(world: np.ndarray, image: np.ndarray) -> np.ndarray:
    """The 3x3 matrix mapping 4 world points onto 4 image points (direct linear transform, h33 = 1)."""
    rows = []
    rhs = []
    for (x, y), (u, v) in zip(world, image, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs.extend([u, v])
    h = np.linalg.solve(np.asarray(rows, dtype=np.float64), np.asarray(rhs, dtype=np.float64))
    return np.append(h, 1.0).reshape(3, 3)


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64)
    flat = points.reshape(-1, 2)
    mapped = flat @ matrix[:, :2].T + matrix[:, 2]
    return (mapped[:, :2] / mapped[:, 2:3]).reshape(points.shape)


@dataclass(frozen=True)
class CameraView:
    """Where the pitch corners appear, as shares of the image size (a property of each stadium)."""

    far_touchline_v: float = 0.25
    far_half_width: float = 0.31
    near_touchline_v: float = 0.92
    near_half_width: float = 0.48


class Camera:
    """Projects ground points to pixels and says how big a figure standing there is drawn."""

    def __init__(self, width: int, height: int, view: CameraView) -> None:
        self.width = width
        self.height = height
        self.view = view
        world = np.array([[0, 0], [PITCH_LENGTH, 0], [0, PITCH_WIDTH], [PITCH_LENGTH, PITCH_WIDTH]], np.float64)
        far_v, near_v = view.far_touchline_v * height, view.near_touchline_v * height
        image = np.array(
            [
                [(0.5 - view.far_half_width) * width, far_v],
                [(0.5 + view.far_half_width) * width, far_v],
                [(0.5 - view.near_half_width) * width, near_v],
                [(0.5 + view.near_half_width) * width, near_v],
            ]
        )
        self.to_image = _homography(world, image)
        self.to_world = np.linalg.inv(self.to_image)
        near_scale = float(self.px_per_m(np.array([PITCH_LENGTH / 2, PITCH_WIDTH])))
        self.figure_height_m = NEAR_FIGURE_HEIGHT_SHARE * height / near_scale

    def project(self, world_xy: np.ndarray) -> np.ndarray:
        """Ground points ``(..., 2)`` in metres to image points ``(..., 2)`` in pixels (u right, v down)."""
        return _apply(self.to_image, world_xy)

    def unproject(self, image_uv: np.ndarray) -> np.ndarray:
        """Image points to the ground points they show."""
        return _apply(self.to_world, image_uv)

    def px_per_m(self, world_xy: np.ndarray) -> np.ndarray:
        """Pixels per metre along the pitch at each ground point: the local zoom that sizes a figure there."""
        world_xy = np.asarray(world_xy, dtype=np.float64)
        step = np.zeros_like(world_xy)
        step[..., 0] = 0.5
        return np.linalg.norm(self.project(world_xy + step) - self.project(world_xy - step), axis=-1)

    def figure_height_px(self, world_xy: np.ndarray) -> np.ndarray:
        return self.figure_height_m * self.px_per_m(world_xy)

    def ground_y_at_image_v(self, v: float) -> float:
        """The ``Y`` (metres) of the ground seen at image row ``v`` in the middle of the image."""
        return float(self.unproject(np.array([self.width / 2, v]))[1])


def _arc(cx: float, cy: float, r: float, start_deg: float, end_deg: float, n: int) -> np.ndarray:
    angles = np.radians(np.linspace(start_deg, end_deg, n))
    return np.stack([cx + r * np.cos(angles), cy + r * np.sin(angles)], axis=1)


def pitch_markings() -> list[np.ndarray]:
    """The white lines of a pitch as world polylines (straight parts stay straight under a homography)."""
    length, width = PITCH_LENGTH, PITCH_WIDTH
    mid_y = width / 2
    lines: list[np.ndarray] = [
        np.array([[0, 0], [length, 0], [length, width], [0, width], [0, 0]], np.float64),
        np.array([[length / 2, 0], [length / 2, width]], np.float64),
        _arc(length / 2, mid_y, 9.15, 0, 360, 73),
        _arc(length / 2, mid_y, 0.25, 0, 360, 9),
    ]
    for goal_x, sign in ((0.0, 1.0), (length, -1.0)):
        box = 16.5 * sign
        small = 5.5 * sign
        lines.append(
            np.array(
                [
                    [goal_x, mid_y - 20.16],
                    [goal_x + box, mid_y - 20.16],
                    [goal_x + box, mid_y + 20.16],
                    [goal_x, mid_y + 20.16],
                ]
            )
        )
        lines.append(
            np.array(
                [
                    [goal_x, mid_y - 9.16],
                    [goal_x + small, mid_y - 9.16],
                    [goal_x + small, mid_y + 9.16],
                    [goal_x, mid_y + 9.16],
                ]
            )
        )
        spot_x = goal_x + 11.0 * sign
        lines.append(_arc(spot_x, mid_y, 0.25, 0, 360, 9))
        # The part of the penalty arc outside the box: |angle| < acos(5.5 / 9.15) = 53.1 degrees from the goal.
        centre_deg = 0.0 if sign > 0 else 180.0
        lines.append(_arc(spot_x, mid_y, 9.15, centre_deg - 53.1, centre_deg + 53.1, 17))
    for cx, cy, start in ((0, 0, 0), (length, 0, 90), (length, width, 180), (0, width, 270)):
        lines.append(_arc(cx, cy, 1.0, start, start + 90, 7))
    return lines


@dataclass(frozen=True)
class CameraPath:
    """Per video frame, how far the broadcast camera zooms into the wide view and which wide-view pixel it centres.

    Frame ``i`` shows wide-view pixel ``p`` at ``zoom[i] * (p - centre[i]) + (width / 2, height / 2)``.
    """

    zoom: np.ndarray  # (n_frames,)
    centre: np.ndarray  # (n_frames, 2) wide-view pixels
    width: int
    height: int

    @property
    def n_frames(self) -> int:
        return len(self.zoom)

    def to_frame(self, points: np.ndarray) -> np.ndarray:
        """Wide-view points ``(n_frames, ..., 2)`` to each frame's own pixels."""
        shape = (self.n_frames,) + (1,) * (points.ndim - 2)
        half = np.array([self.width / 2, self.height / 2])
        return self.zoom.reshape(*shape, 1) * (points - self.centre.reshape(*shape, 2)) + half

    def frame_affine(self, index: int) -> np.ndarray:
        """The (2, 3) transform from wide-view pixels to frame ``index + 1``'s."""
        z = float(self.zoom[index])
        shift = np.array([self.width / 2, self.height / 2]) - z * self.centre[index]
        return np.array([[z, 0.0, shift[0]], [0.0, z, shift[1]]])

    def frame_to_frame(self, index: int) -> np.ndarray:
        """The (2, 3) transform from frame ``index``'s pixels to frame ``index + 1``'s (the camera's motion
        between the two frames; identity for the first frame), what camera-motion compensation estimates."""
        if index == 0:
            return np.eye(2, 3)
        previous = np.vstack([self.frame_affine(index - 1), [0.0, 0.0, 1.0]])
        current = np.vstack([self.frame_affine(index), [0.0, 0.0, 1.0]])
        return (current @ np.linalg.inv(previous))[:2]


def broadcast_path(camera: Camera, ball_xy: np.ndarray, fps: float, rng: np.random.Generator) -> CameraPath:
    """The main camera of a broadcast following ``ball_xy`` (metres, one row per frame).

    The zoom breathes between ``BROADCAST_ZOOM`` with a random period and phase; the centre is pulled towards the
    ball's place in the wide view by a critically damped spring (pans start and stop smoothly, and a long pass is
    followed a moment late), then held where the zoomed picture stays within the wide view.
    """
    n = len(ball_xy)
    t = np.arange(n) / fps
    low, high = BROADCAST_ZOOM
    period = rng.uniform(*ZOOM_PERIOD_S)
    phase = rng.uniform(0, 2 * np.pi)
    wobble = 0.5 + 0.35 * np.sin(2 * np.pi * t / period + phase) + 0.15 * np.sin(2 * np.pi * t / (0.37 * period))
    zoom = low + (high - low) * np.clip(wobble, 0.0, 1.0)
    target = camera.project(ball_xy)
    omega = 2.0 / FOLLOW_LAG_S  # critically damped: x'' = omega^2 (target - x) - 2 omega x'
    dt = 1.0 / fps
    centre = np.empty((n, 2))
    position, velocity = target[0].copy(), np.zeros(2)
    for i in range(n):
        velocity += dt * (omega**2 * (target[i] - position) - 2 * omega * velocity)
        position = position + dt * velocity
        centre[i] = position
    half = np.array([camera.width, camera.height]) / (2 * zoom[:, None])
    centre = np.clip(centre, half, np.array([camera.width, camera.height]) - half)
    return CameraPath(zoom, centre, camera.width, camera.height)
