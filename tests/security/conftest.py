"""Fixtures of the security tests: a small coded mp4 and HLS stream, a hostile server over them, a second server
(another origin) that must never be contacted, and read settings with short timeouts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cvops.video import ReaderSettings, SampleStore
from cvops.video.codedvideo import CodedVideoSpec, write_coded_hls, write_coded_mp4
from tests.security.hostile import HostileServer


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``v.mp4`` (60 frames) and ``hls/index.m3u8`` (50 frames in 1-second MPEG-TS segments)."""
    root = tmp_path_factory.mktemp("hostile-media")
    write_coded_mp4(root / "v.mp4", CodedVideoSpec(60, gop=25))
    write_coded_hls(root / "hls", CodedVideoSpec(50, gop=25), segment_seconds=1)
    return root


@pytest.fixture
def hostile(media: Path) -> Iterator[HostileServer]:
    with HostileServer(media) as server:
        yield server


@pytest.fixture
def other(tmp_path: Path) -> Iterator[HostileServer]:
    """Another origin: every test asserts it saw no request."""
    with HostileServer(tmp_path) as server:
        yield server


@pytest.fixture
def settings() -> ReaderSettings:
    return ReaderSettings(block_size=16 << 10, retries=1, backoff_s=0.01, max_backoff_s=0.02, timeout_s=5)


@pytest.fixture
def store(tmp_path: Path) -> SampleStore:
    return SampleStore(tmp_path / "samples")
