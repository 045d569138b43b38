"""Coded test videos: the frame code survives compression and is refused when damaged."""

from __future__ import annotations

import io
from fractions import Fraction

import numpy as np
import pytest
from PIL import Image

from cvops.video.codedvideo import CodedVideoSpec, coded_frames
from cvops.video.framecode import draw_frame_code, read_frame_code


@pytest.mark.parametrize("number", [0, 1, 2, 1000, 65535])
def test_code_survives_low_quality_jpeg(number) -> None:
    image = np.random.default_rng(number).integers(0, 256, (90, 160, 3), dtype=np.uint8)
    draw_frame_code(image, number)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=30)
    assert read_frame_code(np.asarray(Image.open(buffer))) == number


def test_damaged_or_uncoded_images_are_refused() -> None:
    grey = np.full((90, 160, 3), 128, np.uint8)
    with pytest.raises(ValueError, match="neither black nor white"):
        read_frame_code(grey)
    with pytest.raises(ValueError, match="does not fit"):
        draw_frame_code(grey, 1 << 16)
    with pytest.raises(ValueError, match="too small"):
        read_frame_code(np.zeros((20, 40, 3), np.uint8))


def test_spec_timestamps() -> None:
    ntsc = CodedVideoSpec(4, fps=Fraction(30000, 1001), start_seconds=Fraction(10))
    assert ntsc.pts() == [900000, 903003, 906006, 909009]
    vfr = CodedVideoSpec(50, vfr=True).pts()
    assert len(set(np.diff(vfr).tolist())) > 1 and vfr == sorted(vfr)
    with pytest.raises(ValueError, match="whole frame duration"):
        CodedVideoSpec(4, fps=Fraction(24000, 1001))


@pytest.mark.parametrize("texture", ["noise", "moving", "grain", "flat"])
def test_frames_carry_their_numbers(texture) -> None:
    frames = list(coded_frames(CodedVideoSpec(3, texture=texture)))
    assert [read_frame_code(f) for f in frames] == [1, 2, 3]
    assert len({f[60:].tobytes() for f in frames}) == (1 if texture == "flat" else 3)  # the texture moves
