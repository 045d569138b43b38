"""Drawing the broadcast picture with numpy: a precomputed stadium background plus small figures per frame.

The background (stands with a crowd in home colours, advertising boards, striped grass, antialiased white lines,
goals with nets) depends only on the stadium, the camera and the weather, so it is drawn once per match. A frame
is then a copy of it with shadows and figures pasted in depth order (far first, so near figures cover far ones),
plus rain streaks when it rains. Figures are boolean-masked sprites (head, hair, shirt with sleeves, shorts,
legs with socks, boots; four running poses) cached by size, kit and lighting, so drawing a frame is a few dozen
small array copies: under a millisecond for a 640 x 360 frame (see ``docs/benchmarks.md``).

Weather is a colour transform shared by background and figures: overcast and rain are darker and less
saturated, fog and rain blend towards a haze colour that thickens with distance (image rows further up), a clear
day casts the stand's shadow over part of the pitch (figures standing in it are shaded too), and rain adds
streaks over everything.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw
from scipy.spatial import ConvexHull

from cvops.synth.camera import (
    BROADCAST_ZOOM,
    GOAL_HALF_WIDTH,
    GOAL_HEIGHT_M,
    PITCH_LENGTH,
    PITCH_WIDTH,
    REAL_PERSON_HEIGHT_M,
    Camera,
    CameraPath,
    pitch_markings,
)
from cvops.synth.league import RGB, Fixture, Kit
from cvops.synth.scene import ImageBoxes, Scene

SKIN_TONES: tuple[RGB, ...] = ((241, 194, 160), (224, 172, 125), (170, 120, 85), (110, 75, 50))
HAIR: tuple[RGB, ...] = ((120, 80, 40), (40, 30, 20), (25, 18, 12), (15, 12, 10))
BOOTS: RGB = (20, 20, 22)
LINE_WHITE = np.array([236.0, 238.0, 236.0])
LINE_WIDTH_M = 0.12
FOG_LEVELS = 16
# Metres of running per change of leg pose (four poses make a stride).
STRIDE_STEP_M = 0.7


@dataclass(frozen=True)
class Look:
    """The weather as a colour transform: saturation, brightness, distance haze and the stand's shadow."""

    saturation: float
    brightness: float
    fog_far: float
    fog_near: float
    fog_colour: tuple[float, float, float]
    sun_shadow: float  # multiplier inside the shadow, 1.0 = no shadow
    rain: bool

    def fog_at(self, v: np.ndarray, camera: Camera) -> np.ndarray:
        """Haze amount at image rows ``v``: ``fog_far`` at the far touchline and above, ``fog_near`` at the bottom."""
        far_v = camera.view.far_touchline_v * camera.height
        t = np.clip((np.asarray(v, dtype=np.float64) - far_v) / (camera.height - far_v), 0.0, 1.0)
        return self.fog_far + (self.fog_near - self.fog_far) * t

    def apply(self, rgb: np.ndarray, fog: np.ndarray | float, shade: np.ndarray | float = 1.0) -> np.ndarray:
        """Transform float RGB ``(..., 3)`` under haze ``fog`` and light multiplier ``shade`` (both broadcast)."""
        grey = rgb.mean(axis=-1, keepdims=True)
        out = (grey + (rgb - grey) * self.saturation) * (self.brightness * np.asarray(shade)[..., None])
        fog = np.asarray(fog, dtype=np.float64)[..., None]
        return out * (1.0 - fog) + np.asarray(self.fog_colour) * fog


LOOKS = {
    "clear": Look(1.0, 1.0, 0.0, 0.0, (200, 205, 210), 0.72, False),
    "overcast": Look(0.75, 0.8, 0.1, 0.0, (170, 175, 180), 1.0, False),
    "rain": Look(0.7, 0.68, 0.25, 0.08, (150, 155, 162), 1.0, True),
    "fog": Look(0.55, 0.95, 0.7, 0.35, (196, 200, 204), 1.0, False),
}


def sun_shadow_mask(u: np.ndarray, v: np.ndarray, camera: Camera) -> np.ndarray:
    """The upper-left part of the pitch under the stand's shadow (a slanted line across the image)."""
    far_v = camera.view.far_touchline_v * camera.height
    near_v = camera.view.near_touchline_v * camera.height
    left = far_v + 0.45 * (near_v - far_v)
    right = far_v + 0.05 * (near_v - far_v)
    return v < left + (right - left) * (u / camera.width)


def _smooth_noise(shape: tuple[int, int], cell: int, rng: np.random.Generator) -> np.ndarray:
    """Low-frequency noise in [-1, 1]: a coarse random grid, bilinearly upsampled."""
    rows = shape[0] // cell + 2
    cols = shape[1] // cell + 2
    grid = rng.uniform(-1, 1, (rows, cols))
    y = np.arange(shape[0]) / cell
    x = np.arange(shape[1]) / cell
    y0, x0 = y.astype(int), x.astype(int)
    fy, fx = (y - y0)[:, None], (x - x0)[None, :]
    top = grid[y0][:, x0] * (1 - fx) + grid[y0][:, x0 + 1] * fx
    bottom = grid[y0 + 1][:, x0] * (1 - fx) + grid[y0 + 1][:, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def _segment_distance(u: np.ndarray, v: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    length2 = float(ab @ ab) or 1e-9
    t = np.clip(((u - a[0]) * ab[0] + (v - a[1]) * ab[1]) / length2, 0.0, 1.0)
    return np.hypot(u - (a[0] + t * ab[0]), v - (a[1] + t * ab[1]))


def _draw_polyline(alpha: np.ndarray, points: np.ndarray, width_px: float) -> None:
    """Raise ``alpha`` (H, W) to an antialiased line of ``width_px`` along image ``points``.

    Hand-written rather than PIL's ``line``: PIL draws hard-edged lines of whole-pixel width, and 1-2 px wide lines
    alias badly; here each segment is evaluated only inside its own bounding box, so this stays cheap.
    """
    height, width = alpha.shape
    reach = width_px / 2 + 1.0
    for a, b in itertools.pairwise(points):
        x0 = max(int(np.floor(min(a[0], b[0]) - reach)), 0)
        x1 = min(int(np.ceil(max(a[0], b[0]) + reach)) + 1, width)
        y0 = max(int(np.floor(min(a[1], b[1]) - reach)), 0)
        y1 = min(int(np.ceil(max(a[1], b[1]) + reach)) + 1, height)
        if x0 >= x1 or y0 >= y1:
            continue
        vv, uu = np.mgrid[y0:y1, x0:x1].astype(np.float64) + 0.5
        coverage = np.clip(width_px / 2 + 0.5 - _segment_distance(uu, vv, a, b), 0.0, 1.0)
        np.maximum(alpha[y0:y1, x0:x1], coverage, out=alpha[y0:y1, x0:x1])


def _fill_convex(alpha: np.ndarray, points: np.ndarray, value: float) -> None:
    hull = points[ConvexHull(points).vertices]
    mask = Image.new("L", (alpha.shape[1], alpha.shape[0]), 0)
    ImageDraw.Draw(mask).polygon([tuple(p) for p in hull], fill=255)
    np.maximum(alpha, np.asarray(mask, dtype=np.float64) / 255.0 * value, out=alpha)


def _exaggeration(camera: Camera) -> float:
    return camera.figure_height_m / REAL_PERSON_HEIGHT_M


def _goal_alphas(camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    """Alpha maps of the goal frames (posts and crossbar) and of their nets."""
    frame_alpha = np.zeros((camera.height, camera.width))
    net_alpha = np.zeros_like(frame_alpha)
    mid_y = PITCH_WIDTH / 2
    for goal_x, back_x in ((0.0, -2.0), (PITCH_LENGTH, PITCH_LENGTH + 2.0)):
        base = np.array([[goal_x, mid_y - GOAL_HALF_WIDTH], [goal_x, mid_y + GOAL_HALF_WIDTH]])
        back = np.array([[back_x, mid_y - GOAL_HALF_WIDTH], [back_x, mid_y + GOAL_HALF_WIDTH]])
        base_uv, back_uv = camera.project(base), camera.project(back)
        lift = GOAL_HEIGHT_M * _exaggeration(camera) * camera.px_per_m(base)
        top_uv = base_uv - np.stack([np.zeros(2), lift], axis=1)
        back_top_uv = back_uv - np.stack([np.zeros(2), 0.6 * lift], axis=1)
        net = np.vstack([base_uv, top_uv, back_uv, back_top_uv])
        _fill_convex(net_alpha, net, 1.0)
        post_width = max(1.2, float(camera.px_per_m(base).mean()) * 0.12 * _exaggeration(camera))
        _draw_polyline(frame_alpha, np.array([base_uv[0], top_uv[0], top_uv[1], base_uv[1]]), post_width)
    vv, uu = np.mgrid[0 : camera.height, 0 : camera.width]
    mesh = ((uu % 3) == 0) | ((vv % 3) == 0)
    return frame_alpha, net_alpha * np.where(mesh, 0.5, 0.2)


def _board_rows(camera: Camera) -> tuple[int, int]:
    """Image rows of the top and bottom of the advertising boards (3 m behind the far touchline)."""
    base = np.array([PITCH_LENGTH / 2, -3.0])
    bottom = float(camera.project(base)[1])
    height = 1.0 * _exaggeration(camera) * float(camera.px_per_m(base))
    return max(round(bottom - height), 1), max(round(bottom), 2)


def render_background(camera: Camera, fixture: Fixture, rng: np.random.Generator) -> np.ndarray:
    """The empty stadium under the match's weather, as ``(H, W, 3)`` uint8."""
    height, width = camera.height, camera.width
    stadium = fixture.stadium
    look = LOOKS[fixture.weather]
    vv, uu = np.mgrid[0:height, 0:width].astype(np.float64) + 0.5
    world = camera.unproject(np.stack([uu, vv], axis=-1))
    rgb = np.zeros((height, width, 3))

    # Grass: mowing stripes across the length, slow colour variation, darker run-off outside the lines.
    stripe = np.floor(world[..., 0] / (PITCH_LENGTH / stadium.n_stripes)).astype(int) % 2
    tone = 1.0 + stadium.stripe_contrast * np.where(stripe == 0, 1.0, -1.0)
    tone = tone + 0.04 * _smooth_noise((height, width), max(4, width // 40), rng)
    tone = tone + rng.normal(0, 0.015, (height, width))
    outside = (
        (world[..., 0] < -0.5)
        | (world[..., 0] > PITCH_LENGTH + 0.5)
        | (world[..., 1] < -0.5)
        | (world[..., 1] > PITCH_WIDTH + 0.5)
    )
    tone = np.where(outside, tone * 0.9, tone)
    rgb[:] = np.asarray(stadium.grass, dtype=np.float64) * tone[..., None]

    # White lines, then goals and nets over them.
    line_alpha = np.zeros((height, width))
    for line in pitch_markings():
        image_line = camera.project(line)
        mid = line[len(line) // 2]
        width_px = max(1.0, LINE_WIDTH_M * _exaggeration(camera) * float(camera.px_per_m(mid)))
        _draw_polyline(line_alpha, image_line, width_px)
    frame_alpha, net_alpha = _goal_alphas(camera)
    for alpha, strength in ((line_alpha, 0.9), (net_alpha, 1.0), (frame_alpha, 1.0)):
        rgb += (LINE_WHITE - rgb) * (alpha * strength)[..., None]

    # Boards and stands above the far side.
    board_top, board_bottom = _board_rows(camera)
    segment = max(8, width // 7)
    colours = np.asarray(stadium.board_colours, dtype=np.float64)
    column_colour = colours[(np.arange(width) // segment) % len(colours)]
    text_colour = np.where(column_colour.mean(axis=1, keepdims=True) > 128, 30.0, 240.0)
    board = np.repeat(column_colour[None], board_bottom - board_top, axis=0)
    letters = rng.random((board_bottom - board_top, width // 2 + 1)) < 0.35
    letters = np.repeat(letters, 2, axis=1)[:, :width]
    rows = np.arange(board_bottom - board_top)[:, None]
    band = (rows > (board_bottom - board_top) * 0.25) & (rows < (board_bottom - board_top) * 0.75)
    board = np.where((letters & band)[..., None], np.broadcast_to(text_colour[None], board.shape), board)
    rgb[board_top:board_bottom] = board

    block = max(1, round(height / 180))
    stand_rows = board_top
    grid = (stand_rows // block + 1, width // block + 1)
    palette = np.array([[40, 40, 48], [210, 210, 215], [60, 60, 90], [150, 120, 90], [30, 30, 30]], np.float64)
    home_shirt = np.asarray(fixture.kits.home.shirt, dtype=np.float64)
    pick = rng.random(grid)
    crowd = np.where(
        (pick < 0.45)[..., None],
        home_shirt,
        palette[rng.integers(len(palette), size=grid)],
    )
    empty_seat = rng.random(grid) < 0.2
    crowd = np.where(empty_seat[..., None], np.array([90.0, 95.0, 110.0]), crowd)
    crowd = np.repeat(np.repeat(crowd, block, axis=0), block, axis=1)[:stand_rows, :width]
    tier = max(3, height // 45)
    crowd = crowd * np.where((np.arange(stand_rows) % tier) == 0, 0.55, 1.0)[:, None, None]
    roof = max(1, round(0.03 * height))
    crowd[:roof] = 55.0
    rgb[:stand_rows] = crowd * 0.85

    shade = np.ones((height, width))
    if look.sun_shadow < 1.0:
        shade = np.where(sun_shadow_mask(uu, vv, camera) & (vv > board_bottom), look.sun_shadow, 1.0)
    out = look.apply(rgb, look.fog_at(vv, camera), shade)
    if look.rain:
        out = out + rng.normal(0, 4.0, out.shape)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class RainLayer:
    """Light slanted streaks as sparse pixels (rows, columns, grey values), laid over a frame with a maximum."""

    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray

    def apply(self, frame: np.ndarray) -> None:
        """Lighten ``frame`` in place where a streak is brighter; touching only streak pixels keeps this cheap."""
        pixels = frame[self.rows, self.cols]
        frame[self.rows, self.cols] = np.maximum(pixels, self.values[:, None])


def rain_layers(camera: Camera, rng: np.random.Generator, n_layers: int = 6) -> list[RainLayer]:
    """``n_layers`` independent sheets of streaks; consecutive frames cycle through them."""
    height, width = camera.height, camera.width
    n_streaks = height * width // 700
    scale = height / 360
    layers = []
    for _ in range(n_layers):
        starts_u = rng.uniform(0, width, n_streaks)
        starts_v = rng.uniform(-10 * scale, height, n_streaks)
        lengths = rng.uniform(4, 10, n_streaks) * scale
        values = rng.integers(150, 200, n_streaks).astype(np.uint8)
        steps = np.arange(int(np.ceil(lengths.max())))
        v = (starts_v[:, None] + steps[None, :]).astype(int)
        u = (starts_u[:, None] + 0.3 * steps[None, :]).astype(int)
        keep = (steps[None, :] < lengths[:, None]) & (v >= 0) & (v < height) & (u < width)
        # One value per pixel: where streaks cross, the later one wins, as a dense layer would have it.
        sheet = np.zeros((height, width), np.uint8)
        sheet[v[keep], u[keep]] = np.broadcast_to(values[:, None], keep.shape)[keep]
        rows, cols = np.nonzero(sheet)
        layers.append(RainLayer(rows, cols, sheet[rows, cols]))
    return layers


def _figure_sprite(height: int, width: int, kit: Kit, skin: int, pose: int) -> tuple[np.ndarray, np.ndarray]:
    """A standing or running person as float RGB ``(h, w, 3)`` and a boolean mask, in height units."""
    py = ((np.arange(height) + 0.5) / height)[:, None]
    dx = (((np.arange(width) + 0.5) / width) - 0.5)[None, :] * (width / height)
    rgb = np.zeros((height, width, 3))
    mask = np.zeros((height, width), dtype=bool)

    def paint(region: np.ndarray, colour: RGB) -> None:
        rgb[region] = colour
        mask[region] = True

    adx = np.abs(dx)
    arms = (py >= 0.17) & (py < 0.47) & (adx >= 0.10) & (adx < 0.185)
    paint(arms & (py >= 0.29), SKIN_TONES[skin])
    paint(arms & (py < 0.29), kit.shirt)
    paint((py >= 0.16) & (py < 0.50) & (adx < 0.115), kit.shirt)
    paint((py >= 0.50) & (py < 0.64) & (adx < 0.12), kit.shorts)
    # Legs splay by pose: 0 and 2 together, 1 and 3 mid-stride with the other leg forward.
    t = np.clip((py - 0.64) / 0.31, 0, 1)
    spread_left, spread_right = {0: (0.0, 0.0), 1: (0.09, 0.02), 2: (0.01, 0.01), 3: (0.02, 0.09)}[pose]
    for centre in (-(0.05 + spread_left * t), 0.05 + spread_right * t):
        leg = np.abs(dx - centre) < 0.036
        paint(leg & (py >= 0.64) & (py < 0.95) & (t < 0.45), SKIN_TONES[skin])
        paint(leg & (py >= 0.64) & (py < 0.95) & (t >= 0.45), kit.socks)
        paint((np.abs(dx - centre) < 0.05) & (py >= 0.95), BOOTS)
    head = (dx**2 + (py - 0.085) ** 2) < 0.075**2
    paint(head, SKIN_TONES[skin])
    paint(head & (py < 0.07), HAIR[skin])
    rgb *= (1.08 - 0.16 * py)[..., None]
    return rgb, mask


def _ball_sprite(diameter: int) -> tuple[np.ndarray, np.ndarray]:
    centre = diameter / 2
    yy, xx = np.mgrid[0:diameter, 0:diameter] + 0.5
    r2 = (yy - centre) ** 2 + (xx - centre) ** 2
    mask = r2 <= (diameter / 2) ** 2 + 0.25
    rgb = np.broadcast_to(np.array([245.0, 245.0, 245.0]), (diameter, diameter, 3)).copy()
    if diameter >= 5:
        rgb[r2 < (diameter / 6) ** 2] = (40, 40, 40)
    rgb[(yy > centre + diameter / 5) & mask] *= 0.75
    return rgb, mask


class SpriteCache:
    """Sprites of one match under its weather, keyed by everything that changes their pixels."""

    def __init__(self, look: Look) -> None:
        self.look = look
        self._sprites: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}

    def _finish(
        self, key: tuple, rgb: np.ndarray, mask: np.ndarray, fog_level: int, shaded: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        shade = self.look.sun_shadow if shaded else 1.0
        pixels = np.clip(np.rint(self.look.apply(rgb, fog_level / (FOG_LEVELS - 1), shade)), 0, 255).astype(np.uint8)
        self._sprites[key] = (pixels, mask)
        return pixels, mask

    def figure(
        self, kit: Kit, skin: int, height: int, width: int, pose: int, fog_level: int, shaded: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        key = (kit, skin, height, width, pose, fog_level, shaded)
        sprite = self._sprites.get(key)
        if sprite is None:
            sprite = self._finish(key, *_figure_sprite(height, width, kit, skin, pose), fog_level, shaded)
        return sprite

    def ball(self, diameter: int, fog_level: int, shaded: bool) -> tuple[np.ndarray, np.ndarray]:
        key = ("ball", diameter, fog_level, shaded)
        sprite = self._sprites.get(key)
        if sprite is None:
            sprite = self._finish(key, *_ball_sprite(diameter), fog_level, shaded)
        return sprite


@functools.cache
def _shadow_mask(width: int) -> np.ndarray:
    rows = max(2, round(width * 0.3))
    yy, xx = np.mgrid[0:rows, 0:width] + 0.5
    return ((xx - width / 2) / (width / 2)) ** 2 + ((yy - rows / 2) / (rows / 2)) ** 2 <= 1.0


def _paste(frame: np.ndarray, x: int, y: int, pixels: np.ndarray, mask: np.ndarray) -> None:
    """Copy masked sprite pixels into ``frame`` at top-left ``(x, y)``, cropped to the image."""
    height, width = frame.shape[:2]
    h, w = mask.shape
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, width), min(y + h, height)
    if x0 >= x1 or y0 >= y1:
        return
    crop = (slice(y0 - y, y1 - y), slice(x0 - x, x1 - x))
    np.copyto(frame[y0:y1, x0:x1], pixels[crop], where=mask[crop][..., None])


def _darken(frame: np.ndarray, x: int, y: int, mask: np.ndarray, factor: float) -> None:
    height, width = frame.shape[:2]
    h, w = mask.shape
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, width), min(y + h, height)
    if x0 >= x1 or y0 >= y1:
        return
    region = frame[y0:y1, x0:x1]
    crop = mask[y0 - y : y1 - y, x0 - x : x1 - x]
    region[crop] = (region[crop] * factor).astype(np.uint8)


class MatchRenderer:
    """Renders the frames of one match from its scene and image boxes.

    With a broadcast ``path``, the background is drawn once at the wide view's size times the largest zoom, and
    each frame cuts its own view out of it (one bilinear affine resample, about a millisecond), so zoomed-in
    frames stay sharp; figures are drawn at their zoomed size as usual."""

    def __init__(
        self,
        camera: Camera,
        fixture: Fixture,
        scene: Scene,
        boxes: ImageBoxes,
        rng: np.random.Generator,
        path: CameraPath | None = None,
    ) -> None:
        self.camera = camera
        self.scene = scene
        self.path = path
        self.look = LOOKS[fixture.weather]
        self.scale = 1 if path is None else int(np.ceil(BROADCAST_ZOOM[1]))
        big = camera if path is None else Camera(camera.width * self.scale, camera.height * self.scale, camera.view)
        self.background = render_background(big, fixture, rng)
        self.rain = rain_layers(camera, rng) if self.look.rain else []
        self.sprites = SpriteCache(self.look)
        drawn = boxes.drawn
        self.x = np.rint(drawn[..., 0]).astype(int)
        self.y = np.rint(drawn[..., 1]).astype(int)
        self.w = np.maximum(np.rint(drawn[..., 2]).astype(int), 2)
        self.h = np.maximum(np.rint(drawn[..., 3]).astype(int), 3)
        self.foot = boxes.foot
        self.fog_level = np.rint(self.look.fog_at(boxes.wide_foot[..., 1], camera) * (FOG_LEVELS - 1)).astype(int)
        if self.look.sun_shadow < 1.0:
            self.shaded = sun_shadow_mask(boxes.wide_foot[..., 0], boxes.wide_foot[..., 1], camera)
        else:
            self.shaded = np.zeros(boxes.foot.shape[:2], dtype=bool)
        step = np.linalg.norm(np.diff(scene.positions, axis=0, prepend=scene.positions[:1]), axis=-1)
        # Legs cycle through the four poses with the distance run; standing still shows pose 0.
        self.pose = np.where(step > 1e-6, (np.cumsum(step, axis=0) // STRIDE_STEP_M).astype(int) % 4, 0)
        self.order = np.argsort(boxes.foot[..., 1], axis=1, kind="stable")
        self.kits = [actor.kit for actor in scene.actors]
        self.skins = [actor.skin for actor in scene.actors]

    def _background(self, index: int) -> np.ndarray:
        if self.path is None:
            return self.background.copy()
        # Output pixel p shows wide-view point centre + (p - size / 2) / zoom, which is that times ``scale`` in the
        # large background (PIL's affine maps output coordinates to input coordinates).
        zoom, (cu, cv) = float(self.path.zoom[index]), self.path.centre[index]
        step = self.scale / zoom
        coefficients = (
            step,
            0.0,
            self.scale * cu - step * self.camera.width / 2,
            0.0,
            step,
            self.scale * cv - step * self.camera.height / 2,
        )
        size = (self.camera.width, self.camera.height)
        view = self._background_image.transform(size, Image.Transform.AFFINE, coefficients, Image.Resampling.BILINEAR)
        return np.array(view)

    @functools.cached_property
    def _background_image(self) -> Image.Image:
        return Image.fromarray(self.background)

    def frame(self, index: int) -> np.ndarray:
        """Video frame ``index + 1`` as ``(H, W, 3)`` uint8 RGB."""
        frame = self._background(index)
        order = self.order[index]
        for actor in order:
            w = int(self.w[index, actor])
            shadow = _shadow_mask(w)
            foot_u, foot_v = self.foot[index, actor]
            _darken(frame, round(foot_u - w / 2), round(foot_v - shadow.shape[0] / 2), shadow, 0.7)
        for actor in order:
            kit = self.kits[actor]
            fog, shaded = int(self.fog_level[index, actor]), bool(self.shaded[index, actor])
            h, w = int(self.h[index, actor]), int(self.w[index, actor])
            if kit is None:
                pixels, mask = self.sprites.ball(h, fog, shaded)
            else:
                pose = int(self.pose[index, actor])
                pixels, mask = self.sprites.figure(kit, self.skins[actor], h, w, pose, fog, shaded)
            _paste(frame, int(self.x[index, actor]), int(self.y[index, actor]), pixels, mask)
        if self.rain:
            self.rain[(index * 5) % len(self.rain)].apply(frame)
        return frame

    def frames(self) -> Iterator[np.ndarray]:
        for index in range(self.scene.n_frames):
            yield self.frame(index)
