"""Settings for reading videos: the method, network behaviour, read sizes and decoding costs (passed down)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Method(StrEnum):
    """How frames are read. Only ``exact`` is exact everywhere; the others exist to be measured against."""

    EXACT = "exact"
    PYAV_SEEK = "pyav-seek"
    FFMPEG_SEEK = "ffmpeg-seek"
    FFMPEG_COARSE = "ffmpeg-coarse"


@dataclass(frozen=True)
class ReaderSettings:
    """How videos are fetched and decoded. The defaults suit object storage or a CDN over a data-centre link.

    ``block_size`` trades requests for over-read: an mp4 is read in aligned blocks of this many bytes, so each
    seek reads at most one block it does not need. ``seek_cost_frames`` is what one seek costs (request latency,
    decoder flush and restart) in frames decoded; the planner keeps decoding through a GOP instead of seeking when
    that wastes fewer frames (``benchmarks/extract.py`` measures it). ``skip_unreferenced`` leaves out H.264
    pictures that no other picture needs and nobody asked for (off only to measure what it saves).
    """

    retries: int = 4
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    timeout_s: float = 30.0
    block_size: int = 1 << 20
    block_cache_bytes: int = 64 << 20
    seek_cost_frames: int = 24
    decoder_threads: int = 0
    skip_unreferenced: bool = True
    s3_client_factory: Callable[[], Any] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError("retries must be >= 0")
        if self.block_size < 4096:
            raise ValueError("block_size must be at least 4096 bytes")
        if self.timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
