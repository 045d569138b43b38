"""A frame number drawn into the picture as big black and white blocks, and read back.

Exactness can only be proven with ground truth that survives the whole path a frame takes (encoding with
B-frames, muxing, HTTP, decoding, JPEG). A 16-bit number drawn as two rows of eight large blocks does: block means
stay far from mid-grey even at low JPEG quality, so reading it back is a threshold, not a guess. Test fixtures,
the benchmark and anyone checking an extraction pipeline by hand use the same two functions.
"""

from __future__ import annotations

import numpy as np

CODE_BITS = 16
_COLUMNS = 8
_ROWS = CODE_BITS // _COLUMNS
# Block means below / above these are read as black / white; anything between means the band was damaged (or the
# image is not a coded frame), which is reported instead of being rounded to a plausible wrong number.
_BLACK_BELOW = 80
_WHITE_ABOVE = 175


def code_band_height(width: int, height: int) -> int:
    """Rows at the top of a ``width`` x ``height`` frame that the code occupies."""
    return _ROWS * _block_size(width, height)[1]


def draw_frame_code(image: np.ndarray, number: int) -> None:
    """Draw ``number`` (0 .. 65535) into the top band of an RGB ``image`` (H x W x 3, uint8), in place."""
    if not 0 <= number < 1 << CODE_BITS:
        raise ValueError(f"frame code {number} does not fit in {CODE_BITS} bits")
    height, width = image.shape[:2]
    block_w, block_h = _block_size(width, height)
    for bit in range(CODE_BITS):
        row, col = divmod(bit, _COLUMNS)
        value = 255 if (number >> bit) & 1 else 0
        image[row * block_h : (row + 1) * block_h, col * block_w : (col + 1) * block_w] = value


def read_frame_code(image: np.ndarray) -> int:
    """Read the number :func:`draw_frame_code` drew; ``ValueError`` when a block is neither black nor white."""
    pixels = np.asarray(image)
    if pixels.ndim == 3:
        pixels = pixels.mean(axis=2)
    height, width = pixels.shape
    block_w, block_h = _block_size(width, height)
    number = 0
    for bit in range(CODE_BITS):
        row, col = divmod(bit, _COLUMNS)
        # The central half of the block: edges ring after compression and chroma subsampling.
        top, left = row * block_h + block_h // 4, col * block_w + block_w // 4
        mean = float(pixels[top : top + block_h // 2, left : left + block_w // 2].mean())
        if mean > _WHITE_ABOVE:
            number |= 1 << bit
        elif mean >= _BLACK_BELOW:
            raise ValueError(f"frame code block {bit} has mean {mean:.0f}: neither black nor white")
    return number


def _block_size(width: int, height: int) -> tuple[int, int]:
    block_w = width // _COLUMNS
    block_h = min(block_w, height // (2 * _ROWS))
    if block_w < 8 or block_h < 8:
        raise ValueError(f"a {width}x{height} frame is too small for a readable frame code")
    return block_w, block_h
