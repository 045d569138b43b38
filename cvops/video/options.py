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

    ``request_timeout_s``, ``max_redirects``, ``max_playlist_bytes`` and ``max_segment_bytes`` are limits against
    hostile or broken servers (``docs/security.md``); their defaults are far above what a real 90-minute match
    needs.
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
    request_timeout_s: float = 300.0
    """Longest one request may take, from connecting to the last byte of the body. ``timeout_s`` bounds each wait
    for bytes; this bounds their sum, so a server that drips bytes is cut off (and not retried)."""
    max_redirects: int = 5
    """Same-origin redirects followed per request (redirects to another origin are always refused)."""
    max_playlist_bytes: int = 16 << 20
    """Largest HLS playlist read (a 90-minute match in 2-second segments is about 300 KB)."""
    max_segment_bytes: int = 256 << 20
    """Largest HLS segment (or init section) read whole; ranged reads never take more than the range asked for."""
    s3_client_factory: Callable[[], Any] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError("retries must be >= 0")
        if self.max_redirects < 0:
            raise ValueError("max_redirects must be >= 0")
        if self.request_timeout_s <= 0:
            raise ValueError("request_timeout_s must be positive")
        if min(self.max_playlist_bytes, self.max_segment_bytes) < 4096:
            raise ValueError("max_playlist_bytes and max_segment_bytes must be at least 4096 bytes")
        if self.block_size < 4096:
            raise ValueError("block_size must be at least 4096 bytes")
        if self.timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
