"""Videos whose frames carry their own frame number, for proving that extraction is exact.

Each frame ``n`` (1-based, presentation order) shows ``n`` as a :mod:`cvops.video.framecode` band above a texture.
The texture sets how the video compresses: ``noise`` is incompressible (large GOPs, so byte counts mean something),
``moving`` is a smooth pattern panning sideways (realistic bit rate, cheap to encode), ``flat`` is grey.

``grain`` adds fresh low-amplitude noise to the panning pattern each frame, which gives
the bit rate and decoding cost of real broadcast footage (a few Mbit/s at 720p).

The writers cover the cases that break naive ``index / fps`` seeking: B-frames and long GOPs, a non-zero start time,
NTSC rates (30000/1001), variable frame rate and HLS segmentation (MPEG-TS or fragmented MP4). Timestamps are in
a 1/90000 time base (the MPEG-TS clock), so every common frame rate and start offset is exact.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import numpy as np

from cvops.io import atomic_path
from cvops.video.framecode import code_band_height, draw_frame_code

TIME_BASE = Fraction(1, 90000)
Texture = Literal["noise", "moving", "grain", "flat"]
HlsSegmentType = Literal["mpegts", "fmp4"]


@dataclass(frozen=True)
class CodedVideoSpec:
    """Everything that determines a coded video; the same spec always gives the same decoded frames."""

    n_frames: int
    width: int = 160
    height: int = 90
    fps: Fraction = Fraction(25)
    gop: int = 25
    bframes: int = 2
    start_seconds: Fraction = Fraction(0)
    vfr: bool = False
    texture: Texture = "moving"
    crf: int = 23
    preset: str = "veryfast"
    seed: int = 0

    def __post_init__(self) -> None:
        if (Fraction(1) / (self.fps * TIME_BASE)).denominator != 1:
            raise ValueError(f"{self.fps} fps has no whole frame duration in a 1/90000 time base")
        if (Fraction(self.start_seconds) / TIME_BASE).denominator != 1:
            raise ValueError(f"start {self.start_seconds} s is not a whole number of 1/90000 ticks")

    def pts(self) -> list[int]:
        """Presentation timestamp of every frame, in ``TIME_BASE`` units."""
        nominal = int(Fraction(1) / (self.fps * TIME_BASE))
        if self.vfr:
            # Durations of half to twice the nominal one, as phones and screen recorders produce.
            rng = np.random.default_rng(self.seed + 1)
            durations = [int(nominal * f) for f in rng.choice([0.5, 1.0, 1.5, 2.0], size=self.n_frames)]
        else:
            durations = [nominal] * self.n_frames
        start = int(Fraction(self.start_seconds) / TIME_BASE)
        return [start + int(t) for t in np.concatenate([[0], np.cumsum(durations[:-1])])]


def coded_frames(spec: CodedVideoSpec) -> Iterator[np.ndarray]:
    """The RGB frames of ``spec`` in presentation order (frame 1 first)."""
    rng = np.random.default_rng(spec.seed)
    band = code_band_height(spec.width, spec.height)
    below = spec.height - band
    if spec.texture in ("moving", "grain"):
        # Low-resolution noise blown up into 8x8 cells: smooth enough for motion search, twice as wide as the
        # frame so it can pan for the whole video by wrapping around.
        cells = rng.integers(40, 216, size=(-(-below // 8), -(-2 * spec.width // 8), 3), dtype=np.uint8)
        texture = np.kron(cells, np.ones((8, 8, 1), dtype=np.uint8))[:below, : 2 * spec.width]
    for number in range(1, spec.n_frames + 1):
        image = np.empty((spec.height, spec.width, 3), dtype=np.uint8)
        if spec.texture == "noise":
            image[band:] = rng.integers(0, 256, size=(below, spec.width, 3), dtype=np.uint8)
        elif spec.texture in ("moving", "grain"):
            offset = (3 * number) % spec.width
            image[band:] = texture[:, offset : offset + spec.width]
            if spec.texture == "grain":
                grain = rng.integers(-12, 13, size=(below, spec.width, 1), dtype=np.int16)
                image[band:] = np.clip(image[band:] + grain, 0, 255).astype(np.uint8)
        else:
            image[band:] = 128
        draw_frame_code(image, number)
        yield image


def write_coded_mp4(path: str | Path, spec: CodedVideoSpec, *, faststart: bool = True) -> Path:
    """Encode ``spec`` as H.264 in an MP4 at ``path`` (atomically); ``faststart`` puts the index first."""
    path = Path(path)
    options = {"movflags": "+faststart"} if faststart else {}
    with atomic_path(path) as tmp, av.open(str(tmp), mode="w", format="mp4", options=options) as out:
        _encode(out, spec)
    return path


def write_coded_hls(
    directory: str | Path,
    spec: CodedVideoSpec,
    *,
    segment_seconds: float,
    segment_type: HlsSegmentType = "mpegts",
    playlist_name: str = "index.m3u8",
) -> Path:
    """Encode ``spec`` as a VOD HLS stream in ``directory`` (which must not exist); return the playlist path.

    ffmpeg's HLS muxer cuts segments at the first keyframe after each ``segment_seconds``, so with
    ``gop == segment_seconds * fps`` every segment holds exactly one GOP. The stream is written into a temporary
    sibling folder and renamed into place, so a half-written stream never appears at ``directory``.
    """
    directory = Path(directory)
    if directory.exists():
        raise FileExistsError(f"{directory} already exists")
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    extension = "ts" if segment_type == "mpegts" else "m4s"
    options = {
        "hls_time": str(segment_seconds),
        "hls_list_size": "0",
        "hls_playlist_type": "vod",
        "hls_segment_type": segment_type,
        "hls_segment_filename": str(tmp / f"seg%03d.{extension}"),
    }
    if segment_type == "fmp4":
        options["hls_fmp4_init_filename"] = "init.mp4"
    try:
        with av.open(str(tmp / playlist_name), mode="w", format="hls", options=options) as out:
            _encode(out, spec)
        os.replace(tmp, directory)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return directory / playlist_name


def _encode(out: av.container.OutputContainer, spec: CodedVideoSpec) -> None:
    stream = out.add_stream("libx264", rate=spec.fps)
    stream.width, stream.height = spec.width, spec.height
    stream.pix_fmt = "yuv420p"
    stream.time_base = TIME_BASE
    stream.codec_context.time_base = TIME_BASE
    # One x264 thread: the output then depends only on the input, so a spec always gives the same bytes.
    stream.codec_context.thread_count = 1
    stream.codec_context.options = {
        "preset": spec.preset,
        "crf": str(spec.crf),
        "x264-params": (f"keyint={spec.gop}:min-keyint={spec.gop}:scenecut=0:bframes={spec.bframes}:threads=1"),
    }
    for image, pts in zip(coded_frames(spec), spec.pts(), strict=True):
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = pts
        frame.time_base = TIME_BASE
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))
