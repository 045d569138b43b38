"""Encoding rendered frames the way product videos are stored: H.264 MP4 with B-frames, optionally HLS.

Frame ``i`` (0-based) gets ``pts = i`` in a time base of exactly ``1 / fps`` (``1001/30000`` for NTSC rates), so
frame numbers and timestamps convert without rounding. Keyframes come every ``gop`` frames exactly (scene-cut
detection off), B-frames are on, so decoders and seekers see the same reordering real footage has. x264 runs
with one thread: its output then depends only on the input, which keeps videos byte-identical across machines
(parallelism comes from encoding several matches at once). ``+faststart`` puts the index first so a remote
reader can seek without fetching the whole file.

The HLS copy is made by the ffmpeg binary (``-c copy``: the same frames, segmented at keyframes), so a
``gop`` of ``hls_segment_seconds * fps`` gives segments of exactly that length.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from cvops.errors import CvopsError
from cvops.ffmpeg import ffmpeg_binary
from cvops.io import atomic_path

HLS_PLAYLIST = "index.m3u8"
HLS_SEGMENT_PATTERN = "seg_%05d.ts"


def encode_mp4(
    frames: Iterable[np.ndarray],
    path: Path,
    *,
    fps: Fraction,
    gop: int,
    crf: int = 23,
    b_frames: int = 2,
    preset: str = "veryfast",
) -> int:
    """Write RGB frames to an H.264 MP4 at ``path`` (atomically); return the number of frames written."""
    count = 0
    with atomic_path(path) as tmp, av.open(str(tmp), mode="w", format="mp4", options={"movflags": "+faststart"}) as out:
        stream: av.VideoStream | None = None
        for rgb in frames:
            if stream is None:
                stream = out.add_stream("libx264", rate=fps)
                stream.width, stream.height = rgb.shape[1], rgb.shape[0]
                stream.pix_fmt = "yuv420p"
                stream.time_base = 1 / fps
                stream.codec_context.time_base = 1 / fps
                stream.codec_context.thread_count = 1
                stream.codec_context.options = {
                    "preset": preset,
                    "crf": str(crf),
                    "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes={b_frames}:threads=1",
                }
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = count
            frame.time_base = 1 / fps
            out.mux(stream.encode(frame))
            count += 1
        if stream is None:
            raise CvopsError(f"{path}: no frames to encode")
        out.mux(stream.encode(None))
    return count


def make_hls(mp4: Path, folder: Path, *, segment_seconds: float) -> Path:
    """Copy ``mp4`` into an HLS VOD playlist ``folder/index.m3u8`` with ``seg_00000.ts``... segments.

    The folder is built beside the target and swapped in whole, so a reader never sees a playlist whose segments
    are missing or from another run.
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        command = [
            ffmpeg_binary(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
            "-i", str(mp4),
            "-c", "copy", "-f", "hls",
            "-hls_time", f"{segment_seconds:g}",
            "-hls_playlist_type", "vod",
            "-hls_segment_filename", str(staging / HLS_SEGMENT_PATTERN),
            str(staging / HLS_PLAYLIST),
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise CvopsError(f"{mp4}: ffmpeg could not make an HLS copy: {result.stderr.strip()[-2000:]}")
        staging.chmod(0o755)  # mkdtemp makes it owner-only; the store is meant to be shared
        _swap_folder(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder / HLS_PLAYLIST


def _swap_folder(staging: Path, folder: Path) -> None:
    """Replace ``folder`` by ``staging``: rename the old one aside first (a folder rename cannot overwrite)."""
    retired = None
    if folder.exists():
        retired = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".old", dir=folder.parent))
        retired.rmdir()
        folder.rename(retired)
    staging.rename(folder)
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)
