"""HLS playlists: parse a master or VOD media playlist into segments, checking every URI it names.

Only URIs on the playlist's own scheme and host are accepted (:func:`cvops.video.uri.resolve_child`); encrypted
streams are refused (after their key URI has been checked too), and so are live playlists, whose frame numbers
move as the window slides. Reading the segments is :mod:`cvops.video.hls`'s job.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

import numpy as np

from cvops.errors import InputError
from cvops.video.transport import SizeLimit, Transport
from cvops.video.uri import VideoLocation, resolve_child

SegmentFormat = Literal["mpegts", "mp4"]

_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')
MAX_SEGMENT_SECONDS = 3600
"""Longest ``#EXTINF`` accepted (real segments last 2-10 s)."""


class HlsError(InputError):
    """A playlist that cannot be read exactly (or safely); names the playlist."""


@dataclass(frozen=True)
class HlsResource:
    """A segment or init section: a location and, for ``#EXT-X-BYTERANGE``, the bytes ``[start, stop)``."""

    location: VideoLocation
    byte_range: tuple[int, int] | None = None


@dataclass(frozen=True)
class HlsSegment:
    resource: HlsResource
    duration: float
    init: HlsResource | None
    discontinuity: bool


@dataclass(frozen=True)
class Variant:
    location: VideoLocation
    bandwidth: int
    resolution: tuple[int, int] | None


@dataclass(frozen=True)
class MediaPlaylist:
    location: VideoLocation
    segments: tuple[HlsSegment, ...]
    segment_format: SegmentFormat

    @property
    def has_discontinuity(self) -> bool:
        return any(segment.discontinuity for segment in self.segments[1:])

    @property
    def segment_starts(self) -> np.ndarray:
        """Start of each segment in seconds from the first, by the (rounded) ``#EXTINF`` durations."""
        durations = np.array([segment.duration for segment in self.segments], dtype=float)
        return np.concatenate([[0.0], np.cumsum(durations)[:-1]])


def parse_playlist(text: str, location: VideoLocation) -> MediaPlaylist | list[Variant]:
    """Parse a master playlist (its variants) or a VOD media playlist, refusing off-origin URIs."""
    # (line number, text) of the non-blank lines, numbered as an editor shows them.
    lines = [(n, line.strip()) for n, line in enumerate(text.lstrip("\ufeff").splitlines(), start=1) if line.strip()]
    if not lines or lines[0][1] != "#EXTM3U":
        raise HlsError("not an HLS playlist (no #EXTM3U header)", file=location.display)
    variants: list[Variant] = []
    segments: list[HlsSegment] = []
    duration: float | None = None
    byte_range: tuple[int, int | None] | None = None
    last_range_end: dict[str, int] = {}
    init: HlsResource | None = None
    discontinuity = False
    ended = False
    pending_variant: dict[str, str] | None = None
    variant_line = 0
    for number, line in lines[1:]:
        if line.startswith("#"):
            tag, _, value = line.partition(":")
            if tag == "#EXTINF":
                duration = _duration(value.split(",", 1)[0], location, number)
            elif tag == "#EXT-X-BYTERANGE":
                byte_range = _byte_range(value, location, number, "EXT-X-BYTERANGE")
            elif tag == "#EXT-X-DISCONTINUITY":
                discontinuity = True
            elif tag == "#EXT-X-ENDLIST":
                ended = True
            elif tag == "#EXT-X-STREAM-INF":
                pending_variant, variant_line = _attributes(value), number
            elif tag == "#EXT-X-MAP":
                attributes = _attributes(value)
                map_range = None
                if "BYTERANGE" in attributes:
                    length, offset = _byte_range(attributes["BYTERANGE"], location, number, "EXT-X-MAP BYTERANGE")
                    map_range = (offset or 0, (offset or 0) + length)
                init = HlsResource(_child(location, attributes, "init section (EXT-X-MAP)", number), map_range)
            elif tag in ("#EXT-X-KEY", "#EXT-X-SESSION-KEY"):
                attributes = _attributes(value)
                if attributes.get("METHOD", "NONE") != "NONE":
                    if "URI" in attributes:
                        _child(location, attributes, "key", number)
                    raise HlsError(
                        f"line {number}: encrypted HLS ({attributes['METHOD']}) is not supported",
                        file=location.display,
                    )
            elif tag in ("#EXT-X-MEDIA", "#EXT-X-I-FRAME-STREAM-INF") and "URI=" in value:
                _child(location, _attributes(value), "rendition", number)  # checked, never read
            continue
        # A URI line.
        if pending_variant is not None:
            bandwidth = _integer(pending_variant.get("BANDWIDTH", "0") or "0", location, variant_line, "BANDWIDTH")
            resolution = None
            if "RESOLUTION" in pending_variant:
                width, _, height = pending_variant["RESOLUTION"].partition("x")
                resolution = (
                    _integer(width, location, variant_line, "RESOLUTION"),
                    _integer(height, location, variant_line, "RESOLUTION"),
                )
            variants.append(Variant(resolve_child(location, line, what="variant"), bandwidth, resolution))
            pending_variant = None
            continue
        if duration is None:
            raise HlsError(f"line {number}: segment {line!r} has no #EXTINF", file=location.display)
        segment_location = resolve_child(location, line, what="segment")
        resource_range = None
        if byte_range is not None:
            length, offset = byte_range
            start = offset if offset is not None else last_range_end.get(segment_location.uri, 0)
            resource_range = (start, start + length)
            last_range_end[segment_location.uri] = start + length
        segments.append(HlsSegment(HlsResource(segment_location, resource_range), duration, init, discontinuity))
        duration, byte_range, discontinuity = None, None, False
    if variants:
        return variants
    if not segments:
        raise HlsError("the playlist lists no segments", file=location.display)
    if not ended:
        raise HlsError(
            "a live playlist (no #EXT-X-ENDLIST): its frame numbers move as the window slides",
            file=location.display,
        )
    return MediaPlaylist(location, tuple(segments), _segment_format(segments[0], location))


def load_playlist(transport: Transport, location: VideoLocation) -> tuple[MediaPlaylist, bytes]:
    """Fetch and parse the media playlist at ``location`` (following a master playlist to its best variant).

    Returns the playlist and its raw bytes. The variant with the highest bandwidth is taken: labels are drawn on
    the full-resolution picture.
    """
    limit = SizeLimit(transport.settings.max_playlist_bytes, "max_playlist_bytes")
    raw = transport.read(location.uri, limit=limit)
    parsed = parse_playlist(_decode(raw, location), location)
    if isinstance(parsed, MediaPlaylist):
        return parsed, raw
    best = max(parsed, key=lambda variant: variant.bandwidth)
    raw = transport.read(best.location.uri, limit=limit)
    media = parse_playlist(_decode(raw, best.location), best.location)
    if not isinstance(media, MediaPlaylist):
        raise HlsError("a master playlist points at another master playlist", file=best.location.display)
    return media, raw


def _segment_format(segment: HlsSegment, playlist: VideoLocation) -> SegmentFormat:
    if segment.init is not None:
        return "mp4"
    path = segment.resource.location.uri.split("?", 1)[0].lower()
    if path.endswith((".aac", ".mp3", ".ac3", ".ec3", ".vtt", ".webvtt")):
        name = path.rsplit("/", 1)[-1]
        raise HlsError(f"the segments ({name}, ...) are audio or subtitles, not video", file=playlist.display)
    return "mp4" if path.endswith((".mp4", ".m4s", ".m4v", ".cmfv")) else "mpegts"


def _attributes(value: str) -> dict[str, str]:
    return {key: raw.strip('"') for key, raw in _ATTRIBUTE.findall(value)}


def _child(location: VideoLocation, attributes: dict[str, str], what: str, line: int) -> VideoLocation:
    if "URI" not in attributes:
        raise HlsError(f"line {line}: {what} without a URI", file=location.display)
    return resolve_child(location, attributes["URI"], what=f"{what} (line {line})")


def _duration(text: str, location: VideoLocation, line: int) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds <= MAX_SEGMENT_SECONDS:
        raise HlsError(
            f"line {line}: segment duration {text.strip()[:40]!r} is not a number of seconds from 0 to "
            f"{MAX_SEGMENT_SECONDS}",
            file=location.display,
            field="EXTINF",
        )
    return seconds


def _integer(text: str, location: VideoLocation, line: int, field: str) -> int:
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise HlsError(f"line {line}: {field} {text[:40]!r} is not a whole number", file=location.display, field=field)
    return int(text)


def _byte_range(text: str, location: VideoLocation, line: int, field: str) -> tuple[int, int | None]:
    """``length[@offset]`` of ``#EXT-X-BYTERANGE`` or of the ``BYTERANGE`` attribute of ``#EXT-X-MAP``."""
    length, at, offset = text.strip().partition("@")
    return _integer(length, location, line, field), _integer(offset, location, line, field) if at else None


def _decode(raw: bytes, location: VideoLocation) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise HlsError("the playlist is not UTF-8 text", file=location.display) from None
