"""Fixtures for the video tests: coded videos (every frame shows its number), a Range-capable loopback HTTP
server with fault injection, and small read settings so that byte counts are meaningful on small files."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from cvops.ffmpeg import ffmpeg_binary
from cvops.video import ReaderSettings, SampleStore
from cvops.video.codedvideo import CodedVideoSpec, write_coded_hls, write_coded_mp4
from cvops.video.framecode import read_frame_code
from cvops.video.loopback import LoopbackServer

NTSC = Fraction(30000, 1001)


@dataclass(frozen=True)
class CodedVideo:
    """A generated video and the code every frame shows when decoded start to end (``truth[n - 1]``)."""

    relative: str
    path: Path
    truth: tuple[int, ...]

    @property
    def n_frames(self) -> int:
        return len(self.truth)


def decoded_codes(path: Path) -> tuple[int, ...]:
    """Decode a video sequentially with PyAV (frame n = n-th decoded picture) and read every frame code."""
    with av.open(str(path)) as container:
        return tuple(read_frame_code(f.to_ndarray(format="rgb24")) for f in container.decode(video=0))


def segment_frame_counts(playlist: Path) -> list[int]:
    """Pictures per segment of a local HLS stream (to find the segment boundaries in frame numbers)."""
    init = playlist.parent / "init.mp4"
    header = init.read_bytes() if init.exists() else b""
    counts = []
    for line in playlist.read_text().splitlines():
        if line and not line.startswith("#"):
            data = header + (playlist.parent / line).read_bytes()
            with av.open(io.BytesIO(data), format="mp4" if header else "mpegts") as container:
                counts.append(sum(1 for packet in container.demux(video=0) if packet.size))
    return counts


@pytest.fixture(scope="session")
def video_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("videos")


def _mp4(root: Path, name: str, spec: CodedVideoSpec, **kwargs: object) -> CodedVideo:
    path = write_coded_mp4(root / name, spec, **kwargs)
    return CodedVideo(name, path, decoded_codes(path))


@pytest.fixture(scope="session")
def mp4_videos(video_root: Path) -> dict[str, CodedVideo]:
    """MP4s covering what breaks ``index / fps``: long GOPs with B-frames, a non-zero start, NTSC rate, variable
    frame rate, an index at the end, an edit list that starts mid-GOP, and an interleaved audio track."""
    videos = {
        # Incompressible texture: GOPs of ~200 KB make byte counts meaningful.
        "bframes": _mp4(video_root, "bframes.mp4", CodedVideoSpec(300, gop=60, bframes=3, texture="noise")),
        "start": _mp4(video_root, "start.mp4", CodedVideoSpec(120, fps=NTSC, gop=30, start_seconds=Fraction(10))),
        "ntsc": _mp4(video_root, "ntsc.mp4", CodedVideoSpec(150, fps=NTSC, gop=45, bframes=2)),
        "vfr": _mp4(video_root, "vfr.mp4", CodedVideoSpec(200, gop=40, bframes=2, vfr=True), faststart=False),
    }
    # Stream-copying from 1.5 s cuts mid-GOP: FFmpeg writes an edit list, and the samples before the cut stay in
    # the file flagged "discard". Frame 1 of the result is whichever picture is first presented.
    trimmed = video_root / "editlist.mp4"
    command = [ffmpeg_binary(), "-v", "error", "-y", "-ss", "1.5", "-i", str(videos["ntsc"].path)]
    subprocess.run([*command, "-c", "copy", str(trimmed)], check=True)
    videos["editlist"] = CodedVideo("editlist.mp4", trimmed, decoded_codes(trimmed))
    # Real footage has sound: AAC interleaved with the video, whose bytes the reader must skip, not misread.
    with_audio = video_root / "audio.mp4"
    command = [ffmpeg_binary(), "-v", "error", "-y", "-i", str(videos["bframes"].path), "-f", "lavfi"]
    command += ["-i", "sine=frequency=440:duration=12", "-map", "0:v", "-map", "1:a", "-c:v", "copy"]
    subprocess.run([*command, "-c:a", "aac", "-shortest", "-movflags", "+faststart", str(with_audio)], check=True)
    videos["audio"] = CodedVideo("audio.mp4", with_audio, decoded_codes(with_audio))
    return videos


@pytest.fixture(scope="session")
def hls_videos(video_root: Path) -> dict[str, CodedVideo]:
    """HLS streams at 30000/1001 fps: MPEG-TS with one GOP per segment, MPEG-TS with two GOPs per segment,
    fragmented MP4, and a variable-frame-rate stream (which must fall back to counting frames)."""
    specs = {
        "ts": (CodedVideoSpec(240, fps=NTSC, gop=30, bframes=2), "mpegts"),
        "ts2gop": (CodedVideoSpec(180, fps=NTSC, gop=15, bframes=2, seed=2), "mpegts"),
        "fmp4": (CodedVideoSpec(180, fps=NTSC, gop=30, bframes=2, seed=3), "fmp4"),
        "vfr": (CodedVideoSpec(120, fps=Fraction(25), gop=25, vfr=True, seed=4), "mpegts"),
    }
    videos = {}
    for name, (spec, segment_type) in specs.items():
        playlist = write_coded_hls(video_root / f"hls-{name}", spec, segment_seconds=1, segment_type=segment_type)
        relative = playlist.relative_to(video_root).as_posix()
        videos[name] = CodedVideo(relative, playlist, decoded_codes(playlist))
    return videos


@pytest.fixture(scope="session")
def _server(video_root: Path) -> Iterator[LoopbackServer]:
    with LoopbackServer(video_root) as server:
        yield server


@pytest.fixture
def http_server(_server: LoopbackServer) -> Iterator[LoopbackServer]:
    """The loopback server over ``video_root``, with counters reset and no faults left over."""
    _server.reset_counters()
    _server.clear_faults()
    _server.redirects.clear()
    yield _server
    _server.clear_faults()
    _server.redirects.clear()


@pytest.fixture
def settings() -> ReaderSettings:
    """16 KiB blocks (the test videos are small) and fast retries."""
    return ReaderSettings(block_size=16 << 10, retries=3, backoff_s=0.01, max_backoff_s=0.05, timeout_s=5)


@pytest.fixture
def sample_store(tmp_path: Path) -> SampleStore:
    return SampleStore(tmp_path / "samples")


def image_code(path: Path) -> int:
    with Image.open(path) as image:
        return read_frame_code(np.asarray(image.convert("RGB")))
