"""A preview of extracted samples with their boxes and track ids drawn, for the Dagster UI (PNG bytes).

A reviewer should see at a glance whether boxes sit on the players, so each image is drawn at a readable width with
one colour per track (stable across images: it comes from the track id) and the id and role written above the box.
Up to four images are tiled two per row, each captioned with its frame number.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from PIL import Image, ImageDraw, ImageFont

_COLUMNS = 2
_CAPTION_HEIGHT = 22


def render_preview(
    images: Sequence[tuple[int, str | Path]],
    boxes: pd.DataFrame,
    *,
    max_images: int = 4,
    width: int = 640,
) -> bytes:
    """Draw ``boxes`` (columns ``frame, track_id, role, x, y, w, h``, pixels of the full image) on the first
    ``max_images`` of ``images`` (``(frame, path)`` pairs) and return the tiled picture as PNG bytes."""
    missing = {"frame", "track_id", "role", "x", "y", "w", "h"} - set(boxes.columns)
    if missing:
        raise ValueError(f"boxes lack columns {sorted(missing)}")
    chosen = list(images)[:max_images]
    if not chosen:
        raise ValueError("no images to preview")
    font = ImageFont.load_default(size=14)
    tiles = [_tile(frame, Path(path), boxes[boxes["frame"] == frame], width, font) for frame, path in chosen]
    rows = -(-len(tiles) // _COLUMNS)
    columns = min(_COLUMNS, len(tiles))
    tile_height = max(tile.height for tile in tiles)
    sheet = Image.new("RGB", (columns * width, rows * tile_height), "white")
    for index, tile in enumerate(tiles):
        row, column = divmod(index, _COLUMNS)
        sheet.paste(tile, (column * width, row * tile_height))
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    return buffer.getvalue()


def track_colour(track_id: object) -> tuple[int, int, int]:
    """A bright colour that depends only on the track id."""
    hue = int(hashlib.md5(str(track_id).encode()).hexdigest()[:4], 16) / 0xFFFF
    red, green, blue = colorsys.hsv_to_rgb(hue, 0.85, 1.0)
    return int(red * 255), int(green * 255), int(blue * 255)


def _tile(frame: int, path: Path, boxes: pd.DataFrame, width: int, font: ImageFont.ImageFont) -> Image.Image:
    with Image.open(path) as source:
        image = source.convert("RGB")
    scale = width / image.width
    image = image.resize((width, max(1, round(image.height * scale))), Image.Resampling.BILINEAR)
    tile = Image.new("RGB", (width, image.height + _CAPTION_HEIGHT), "white")
    tile.paste(image, (0, _CAPTION_HEIGHT))
    draw = ImageDraw.Draw(tile)
    draw.text((6, 3), f"frame {frame}  ({len(boxes)} boxes)", fill="black", font=font)
    for box in boxes.itertuples(index=False):
        left, top = box.x * scale, box.y * scale + _CAPTION_HEIGHT
        right, bottom = left + box.w * scale, top + box.h * scale
        colour = track_colour(box.track_id)
        draw.rectangle((left, top, right, bottom), outline=colour, width=2)
        label = f"{box.track_id} {box.role}"
        text_top = max(_CAPTION_HEIGHT, top - 16)
        text_box = draw.textbbox((left, text_top), label, font=font)
        draw.rectangle(text_box, fill=colour)
        draw.text((left, text_top), label, fill="black", font=font)
    return tile
