"""Opening a video for extraction: its transport, its kind (mp4 or HLS) and its content fingerprint.

The fingerprint identifies the *content*, not the address, so the sample store survives re-signed URLs and moved
stores: for an mp4 it hashes the size and the first and last 64 KiB (the index and the first and last pictures),
for HLS the segment list (durations and byte ranges) and the whole first segment. Any re-encode changes it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cvops.errors import InputError
from cvops.io import write_text_atomic
from cvops.video.hls import HlsIndex, HlsVideo
from cvops.video.options import ReaderSettings
from cvops.video.playlist import MediaPlaylist, load_playlist
from cvops.video.rangefile import BlockReader, RangeFile
from cvops.video.transport import Transport, open_transport
from cvops.video.uri import ContainerKind, VideoLocation

FINGERPRINT_SPAN = 64 << 10
_MP4_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot")


@dataclass
class VideoSource:
    """One video opened for one extraction (its transport counts that extraction's bytes)."""

    location: VideoLocation
    container: ContainerKind
    transport: Transport
    fingerprint: str
    blocks: BlockReader | None = None  # mp4: the block cache shared by the video's workers
    hls: HlsVideo | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)  # what release() closes (an ffmpeg feed)

    @property
    def name(self) -> str:
        return self.location.display

    def release(self) -> None:
        """Close what was opened for the video (an ffmpeg feed) and drop cached bytes; the counters stay."""
        while self.closers:
            self.closers.pop()()
        if self.blocks is not None:
            self.blocks.clear()
        if self.hls is not None:
            self.hls.clear()

    def open_file(self) -> RangeFile:
        """A new file object over the mp4 (one per open container; the blocks behind it are shared)."""
        if self.blocks is None:
            raise TypeError(f"{self.name} is not an mp4")
        return RangeFile(self.blocks)

    def keep_learned(self, tables: Path) -> None:
        """Write what was learned about an HLS video (its index) to the cache of tables, if anything changed."""
        if self.hls is not None and self.hls.changed:
            write_text_atomic(self.hls_index_path(tables), self.hls.index.to_json())

    def hls_index_path(self, tables: Path) -> Path:
        return tables / f"{self.fingerprint}.hls.json"

    def frame_table_path(self, tables: Path) -> Path:
        return tables / f"{self.fingerprint}.parquet"


def open_source(location: VideoLocation, settings: ReaderSettings) -> VideoSource:
    """Connect to the video at ``location`` and fingerprint it (reads about 128 KiB, or the first segment)."""
    transport = open_transport(location.kind, settings)
    container = location.container
    head: bytes | None = None
    if container is None:
        head = transport.read(location.uri, 0, FINGERPRINT_SPAN)
        container = _sniff(head, location)
    if container is ContainerKind.HLS:
        playlist, _ = load_playlist(transport, location)
        hls = HlsVideo(
            playlist,
            transport,
            HlsIndex(),
            name=location.display,
            decoder_threads=settings.decoder_threads,
            skip_unreferenced=settings.skip_unreferenced,
            cache_bytes=settings.block_cache_bytes,
        )
        return VideoSource(location, container, transport, _hls_fingerprint(playlist, hls), hls=hls)
    size = transport.stat(location.uri).size
    if size <= 2 * FINGERPRINT_SPAN:
        head = tail = transport.read(location.uri, 0, size)  # small: one read covers both
    else:
        if head is None or len(head) < FINGERPRINT_SPAN:
            head = transport.read(location.uri, 0, FINGERPRINT_SPAN)
        tail = transport.read(location.uri, size - FINGERPRINT_SPAN, size)
    digest = hashlib.sha256(b"mp4\0" + str(size).encode() + b"\0" + head + b"\0" + tail)
    blocks = BlockReader(
        transport, location.uri, size, block_size=settings.block_size, cache_bytes=settings.block_cache_bytes
    )
    return VideoSource(location, container, transport, digest.hexdigest(), blocks=blocks)


def _hls_fingerprint(playlist: MediaPlaylist, hls: HlsVideo) -> str:
    layout = [(segment.duration, segment.resource.byte_range) for segment in playlist.segments]
    digest = hashlib.sha256(b"hls\0" + json.dumps(layout).encode() + b"\0")
    first = playlist.segments[0]
    if first.init is not None:
        digest.update(hls.resource_bytes(first.init))
    digest.update(hls.resource_bytes(first.resource))
    return digest.hexdigest()


def _sniff(head: bytes, location: VideoLocation) -> ContainerKind:
    if head.lstrip(b"\xef\xbb\xbf").startswith(b"#EXTM3U"):
        return ContainerKind.HLS
    if head[4:8] in _MP4_BOXES:
        return ContainerKind.MP4
    raise InputError("is neither an MP4 nor an HLS playlist", file=location.display, field="video")
