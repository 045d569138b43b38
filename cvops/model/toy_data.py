"""Tiny drawn football frames with exact boxes, for tests and for benchmarks that must not depend on the
synthetic video generator.

A striped green pitch; players are a skin-coloured head over a shirt (team colour) over dark shorts;
goalkeepers wear yellow, the referee black, the ball is a small white square. Objects move at constant
velocity and bounce off the borders, so track ids stay meaningful across frames.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cvops.model.dataset_folder import DatasetSample, write_dataset_folder

SHIRTS = {
    "home": (200, 30, 30),
    "away": (40, 60, 210),
    "goalkeeper": (230, 220, 40),
    "referee": (15, 15, 15),
}
SKIN = (225, 180, 140)
SHORTS = (30, 30, 40)
BALL = (250, 250, 250)


@dataclass(frozen=True)
class ToyObject:
    track_id: int
    role: str
    shirt: tuple[int, int, int]
    width: int
    height: int


def _cast(n_players: int) -> list[ToyObject]:
    objects = [ToyObject(i + 1, "player", SHIRTS["home" if i % 2 == 0 else "away"], 8, 16) for i in range(n_players)]
    objects.append(ToyObject(n_players + 1, "goalkeeper", SHIRTS["goalkeeper"], 8, 16))
    objects.append(ToyObject(n_players + 2, "referee", SHIRTS["referee"], 8, 16))
    objects.append(ToyObject(n_players + 3, "ball", BALL, 4, 4))
    return objects


def draw_pitch(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    width, height = size
    image = np.empty((height, width, 3), dtype=np.uint8)
    stripe = max(4, width // 10)
    columns = (np.arange(width) // stripe) % 2
    image[:] = np.where(columns[None, :, None] == 0, (40, 130, 50), (50, 150, 60)).astype(np.uint8)
    image[:, width // 2 : width // 2 + 1] = 230
    noise = rng.integers(-6, 7, size=image.shape)
    return np.clip(image.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def draw_object(image: np.ndarray, obj: ToyObject, x: int, y: int) -> None:
    """Draw ``obj`` with its top-left at (x, y); the caller keeps it inside the image."""
    w, h = obj.width, obj.height
    if obj.role == "ball":
        image[y : y + h, x : x + w] = obj.shirt
        return
    head = max(1, h // 4)
    shorts = max(1, h // 4)
    image[y : y + head, x + w // 4 : x + w - w // 4] = SKIN
    image[y + head : y + h - shorts, x : x + w] = obj.shirt
    image[y + h - shorts : y + h, x + 1 : x + w - 1] = SHORTS


def toy_match(
    match_id: str,
    n_frames: int,
    *,
    size: tuple[int, int] = (160, 96),
    n_players: int = 6,
    seed: int = 0,
) -> list[tuple[int, np.ndarray, pd.DataFrame]]:
    """``(frame, image, boxes)`` for 1-based frames; boxes have ``track_id, role, x, y, w, h``."""
    rng = np.random.default_rng([seed, sum(map(ord, match_id))])
    objects = _cast(n_players)
    width, height = size
    limits = np.array([[width - o.width, height - o.height] for o in objects], dtype=float)
    position = rng.uniform(0, 1, size=(len(objects), 2)) * limits
    velocity = rng.uniform(-2.5, 2.5, size=(len(objects), 2))
    frames = []
    for frame in range(1, n_frames + 1):
        image = draw_pitch(size, rng)
        rows = []
        for obj, (x, y) in zip(objects, np.round(position).astype(int), strict=True):
            draw_object(image, obj, int(x), int(y))
            rows.append((obj.track_id, obj.role, float(x), float(y), float(obj.width), float(obj.height)))
        frames.append((frame, image, pd.DataFrame(rows, columns=["track_id", "role", "x", "y", "w", "h"])))
        position += velocity
        bounced = (position < 0) | (position > limits)
        velocity[bounced] *= -1
        position = np.clip(position, 0, limits)
    return frames


def toy_samples(
    *,
    train_matches: int,
    val_matches: int,
    frames_per_match: int,
    size: tuple[int, int],
    n_players: int,
    seed: int,
) -> Iterator[DatasetSample]:
    """Toy matches ``toy-00``, ``toy-01``, ... as dataset samples; the last ``val_matches`` are val."""
    for number in range(train_matches + val_matches):
        match_id = f"toy-{number:02d}"
        split = "val" if number >= train_matches else "train"
        for frame, image, boxes in toy_match(match_id, frames_per_match, size=size, n_players=n_players, seed=seed):
            yield DatasetSample(match_id=match_id, frame=frame, split=split, image=image, boxes=boxes)


def write_toy_dataset(
    root: Path,
    *,
    train_matches: int = 2,
    val_matches: int = 1,
    frames_per_match: int = 8,
    size: tuple[int, int] = (160, 96),
    n_players: int = 6,
    seed: int = 0,
) -> Path:
    """A small dataset folder of :func:`toy_samples`."""
    samples = toy_samples(
        train_matches=train_matches,
        val_matches=val_matches,
        frames_per_match=frames_per_match,
        size=size,
        n_players=n_players,
        seed=seed,
    )
    return write_dataset_folder(root, samples)
