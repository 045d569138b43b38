"""HLS: parse the playlist, find the segment that holds a frame, fetch and decode only that segment.

Seeking an HLS stream by time (what FFmpeg's ``-ss`` does) lands on the wrong segment near boundaries, because
``#EXTINF`` durations are rounded and the demuxer picks segments by them. Here segments are only *estimated* from
the durations; the estimate is then checked against the real presentation timestamps of the segment's packets
(demuxed, not decoded), moving to the neighbour when the frame is not inside, and the frame is picked from the
decoded segment by timestamp.

Numbering (frame 1 = first decoded frame) comes from one of two modes:

* **grid** (the normal case): frame ``n`` has timestamp ``first_pts + (n - 1) * frame_duration``. The anchor
  (first timestamp and frame duration) comes from decoding the first segment, and every segment examined is
  checked to sit on that grid without gaps, so a variable frame rate cannot be mistaken for a constant one.
* **counted**: when the playlist has discontinuities (timestamps restart) or a segment fails the grid check,
  frames are counted segment by segment from the start, which fetches every segment up to the frame once.

Either way the segment timestamps learned are kept in a per-video :class:`HlsIndex`, cached beside the mp4 frame
tables, so later extractions fetch only the segments they decode.

Only URIs on the playlist's own scheme and host are followed (:func:`cvops.video.uri.resolve_child`); encrypted
streams are refused (after their key URI has been checked too).
"""

from __future__ import annotations

import io
import itertools
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal, TypeVar

import av
import numpy as np

from cvops.errors import InputError
from cvops.video.h264 import is_disposable, nal_length_size
from cvops.video.transport import Transport
from cvops.video.uri import VideoLocation, resolve_child

SegmentFormat = Literal["mpegts", "mp4"]
EmitFrame = Callable[[int, av.VideoFrame], None]
V = TypeVar("V")

_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')
_MPEG_TS_WRAP_BITS = 33


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
    lines = [line.strip() for line in text.lstrip("\ufeff").splitlines()]
    lines = [line for line in lines if line]
    if not lines or lines[0] != "#EXTM3U":
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
    for number, line in enumerate(lines[1:], start=2):
        if line.startswith("#"):
            tag, _, value = line.partition(":")
            if tag == "#EXTINF":
                duration = _number(value.split(",", 1)[0], location, number)
            elif tag == "#EXT-X-BYTERANGE":
                length, _, offset = value.partition("@")
                byte_range = (int(_number(length, location, number)), int(offset) if offset else None)
            elif tag == "#EXT-X-DISCONTINUITY":
                discontinuity = True
            elif tag == "#EXT-X-ENDLIST":
                ended = True
            elif tag == "#EXT-X-STREAM-INF":
                pending_variant = _attributes(value)
            elif tag == "#EXT-X-MAP":
                attributes = _attributes(value)
                map_range = None
                if "BYTERANGE" in attributes:
                    length, _, offset = attributes["BYTERANGE"].partition("@")
                    map_range = (int(offset or 0), int(offset or 0) + int(length))
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
            bandwidth = int(pending_variant.get("BANDWIDTH", "0") or 0)
            resolution = None
            if "RESOLUTION" in pending_variant:
                width, _, height = pending_variant["RESOLUTION"].partition("x")
                resolution = (int(width), int(height))
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
    raw = transport.read(location.uri)
    parsed = parse_playlist(_decode(raw, location), location)
    if isinstance(parsed, MediaPlaylist):
        return parsed, raw
    best = max(parsed, key=lambda variant: variant.bandwidth)
    raw = transport.read(best.location.uri)
    media = parse_playlist(_decode(raw, best.location), best.location)
    if not isinstance(media, MediaPlaylist):
        raise HlsError("a master playlist points at another master playlist", file=best.location.display)
    return media, raw


@dataclass(frozen=True)
class Anchor:
    """Frame 1's timestamp and the nominal frame duration (time-base ticks), from the first segment."""

    time_base: Fraction
    first_pts: int
    frame_ticks: Fraction
    wrap_bits: int | None

    def unwrap(self, pts: int) -> int:
        """MPEG-TS timestamps wrap every 2**33 ticks (26.5 hours); map them next to ``first_pts``."""
        return unwrap(pts, self.first_pts, self.wrap_bits)


def unwrap(pts: int, reference: int, wrap_bits: int | None) -> int:
    if wrap_bits is None:
        return pts
    period = 1 << wrap_bits
    delta = (pts - reference) % period
    if delta >= period // 2:
        delta -= period
    return reference + delta


@dataclass
class HlsIndex:
    """What has been learned about one HLS video: its anchor, its mode and the timestamps of examined segments."""

    anchor: Anchor | None = None
    counted: bool = False
    segment_pts: dict[int, list[int]] = field(default_factory=dict)

    def to_json(self) -> str:
        anchor = None
        if self.anchor is not None:
            anchor = {
                "time_base": str(self.anchor.time_base),
                "first_pts": self.anchor.first_pts,
                "frame_ticks": str(self.anchor.frame_ticks),
                "wrap_bits": self.anchor.wrap_bits,
            }
        segments = {str(k): v for k, v in sorted(self.segment_pts.items())}
        return json.dumps({"version": 1, "anchor": anchor, "counted": self.counted, "segments": segments})

    @classmethod
    def from_json(cls, text: str) -> HlsIndex:
        raw = json.loads(text)
        anchor = raw.get("anchor")
        if anchor is not None:
            anchor = Anchor(
                Fraction(anchor["time_base"]), anchor["first_pts"], Fraction(anchor["frame_ticks"]), anchor["wrap_bits"]
            )
        segments = {int(k): list(v) for k, v in raw.get("segments", {}).items()}
        return cls(anchor=anchor, counted=bool(raw.get("counted")), segment_pts=segments)


class HlsVideo:
    """One HLS video being read: segment fetching (deduplicated, LRU-cached), frame location and decoding.

    Thread-safe: the tasks of one video share it.
    """

    def __init__(
        self,
        playlist: MediaPlaylist,
        transport: Transport,
        index: HlsIndex,
        *,
        name: str,
        decoder_threads: int = 0,
        skip_unreferenced: bool = True,
        cache_bytes: int = 64 << 20,
    ) -> None:
        self.playlist = playlist
        self.transport = transport
        self.name = name
        self.decoder_threads = decoder_threads
        self.skip_unreferenced = skip_unreferenced
        self.changed = False
        self.use_index(index)
        self._cache_bytes = cache_bytes
        self._data: OrderedDict[HlsResource, bytes] = OrderedDict()
        self._in_flight: dict[object, threading.Event] = {}
        self._lock = threading.Lock()

    def use_index(self, index: HlsIndex) -> None:
        """Start from what an earlier extraction learned (call before any reading)."""
        self.index = index
        if self.playlist.has_discontinuity and not index.counted:
            index.counted = True  # timestamps restart at a discontinuity: only counting numbers frames
            self.changed = True

    def clear(self) -> None:
        """Drop cached segment bytes (what was learned stays in the index)."""
        with self._lock:
            self._data.clear()

    @property
    def n_segments(self) -> int:
        return len(self.playlist.segments)

    # -- bytes -----------------------------------------------------------------------------------------------

    def resource_bytes(self, resource: HlsResource) -> bytes:
        def lookup() -> bytes | None:
            data = self._data.get(resource)
            if data is not None:
                self._data.move_to_end(resource)
            return data

        def fetch() -> bytes:
            start, stop = resource.byte_range or (0, None)
            data = self.transport.read(resource.location.uri, start, stop)
            with self._lock:
                self._data[resource] = data
                while sum(map(len, self._data.values())) > self._cache_bytes and len(self._data) > 1:
                    self._data.popitem(last=False)
            return data

        return self._once(("bytes", resource), lookup, fetch)

    def segment_data(self, first: int, last: int | None = None) -> bytes:
        """The init section (if any) followed by segments ``first .. last``: one decodable stream."""
        last = first if last is None else last
        segments = self.playlist.segments[first : last + 1]
        init = segments[0].init
        parts = [self.resource_bytes(init)] if init is not None else []
        parts += [self.resource_bytes(segment.resource) for segment in segments]
        return b"".join(parts)

    # -- timestamps ------------------------------------------------------------------------------------------

    @property
    def anchor(self) -> Anchor:
        return self._once("anchor", lambda: self.index.anchor, self._find_anchor)

    def _find_anchor(self) -> Anchor:
        container = self._open(self.segment_data(0))
        try:
            stream = container.streams.video[0]
            time_base = Fraction(stream.time_base)
            wrap_bits = _MPEG_TS_WRAP_BITS if self.playlist.segment_format == "mpegts" else None
            first_pts = next((picture.pts for picture in container.decode(stream) if picture.pts is not None), None)
            rate = stream.average_rate or stream.guessed_rate
        finally:
            container.close()
        if first_pts is None:
            raise HlsError(f"{self.name}: the first segment has no decodable picture", file=self.name)
        raw = self._demux_pts(0)
        pts = sorted(unwrap(p, first_pts, wrap_bits) for p in raw)
        median = Fraction(int(np.median(np.diff(pts)))) if len(pts) > 1 else None
        frame_ticks = 1 / (Fraction(rate) * time_base) if rate else median
        if frame_ticks is None:
            raise HlsError(f"{self.name}: cannot tell the frame rate from the first segment", file=self.name)
        anchor = Anchor(time_base, first_pts, frame_ticks, wrap_bits)
        with self._lock:
            self.index.anchor = anchor
            self.index.segment_pts.setdefault(0, pts)
            self.changed = True
        return anchor

    def segment_pts(self, k: int) -> list[int]:
        """Sorted presentation timestamps (unwrapped) of the pictures in segment ``k``."""

        def compute() -> list[int]:
            pts = sorted(self.anchor.unwrap(p) for p in self._demux_pts(k))
            with self._lock:
                self.index.segment_pts[k] = pts
                self.changed = True
            return pts

        return self._once(("pts", k), lambda: self.index.segment_pts.get(k), compute)

    def _demux_pts(self, k: int) -> list[int]:
        container = self._open(self.segment_data(k))
        try:
            stream = container.streams.video[0]
            pts = [p.pts for p in container.demux(stream) if p.size > 0]
        finally:
            container.close()
        if any(p is None for p in pts):
            raise HlsError(f"segment {k} has pictures without timestamps", file=self.name)
        return pts

    # -- frame numbers ---------------------------------------------------------------------------------------

    def estimate_segment(self, frame: int) -> int:
        """The segment that probably holds ``frame``, from the playlist durations (no fetching)."""
        anchor = self.anchor
        seconds = float((frame - 1) * anchor.frame_ticks * anchor.time_base)
        k = int(np.searchsorted(self.playlist.segment_starts, seconds, side="right")) - 1
        return min(max(k, 0), self.n_segments - 1)

    def locate(self, frame: int) -> tuple[int, int]:
        """``(segment, pts)`` of frame ``frame``; raises when the frame is past the end."""
        if not self.index.counted:
            found = self._locate_on_grid(frame)
            if found is not None:
                return found
            with self._lock:
                self.index.counted = True
                self.changed = True
        return self._locate_by_count(frame)

    def _locate_on_grid(self, frame: int) -> tuple[int, int] | None:
        anchor = self.anchor
        expected = anchor.first_pts + (frame - 1) * anchor.frame_ticks
        tolerance = anchor.frame_ticks / 2
        k = self.estimate_segment(frame)
        visited: set[int] = set()
        while k not in visited:
            visited.add(k)
            pts = self.segment_pts(k)
            if not pts:
                return None
            if expected < pts[0] - tolerance and k > 0:
                k -= 1
            elif expected > pts[-1] + tolerance and k < self.n_segments - 1:
                k += 1
            elif expected > pts[-1] + tolerance:
                raise _past_end(self.name, frame)
            else:
                nearest = min(pts, key=lambda p: abs(p - expected))
                if abs(nearest - expected) > tolerance or not self._on_grid(pts):
                    return None
                return k, nearest
        return None  # the frame falls between two segments: timestamps are not on one grid

    def _on_grid(self, pts: list[int]) -> bool:
        anchor = self.anchor
        steps = [(p - anchor.first_pts) / anchor.frame_ticks for p in pts]
        slots = [round(step) for step in steps]
        tolerance = max(Fraction(1), anchor.frame_ticks / 8) / anchor.frame_ticks
        on_slot = all(abs(step - slot) <= tolerance for step, slot in zip(steps, slots, strict=True))
        return on_slot and all(b - a == 1 for a, b in itertools.pairwise(slots))

    def _locate_by_count(self, frame: int) -> tuple[int, int]:
        first = 1
        for k in range(self.n_segments):
            pts = self.segment_pts(k)
            if frame < first + len(pts):
                return k, pts[frame - first]
            first += len(pts)
        raise _past_end(self.name, frame)

    # -- decoding --------------------------------------------------------------------------------------------

    def decode(self, k: int, wanted: dict[int, int], emit: EmitFrame) -> list[int]:
        """Decode segment ``k`` and emit the pictures whose timestamps are in ``wanted`` (pts -> frame number).

        A picture that segment ``k`` cannot produce on its own (it does not start with a keyframe, or the leading
        pictures of an open GOP) is retried with the previous segment prepended. Returns frames still missing.
        """
        remaining = dict(wanted)
        self._decode_into(self.segment_data(k), remaining, emit)
        if remaining and k > 0:
            self._decode_into(self.segment_data(k - 1, k), remaining, emit)
        return sorted(remaining.values())

    def _decode_into(self, data: bytes, remaining: dict[int, int], emit: EmitFrame) -> None:
        anchor = self.anchor
        container = self._open(data)
        try:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            codec = stream.codec_context
            codec.thread_count = self.decoder_threads
            skippable = self.skip_unreferenced and codec.name == "h264"
            length_size = nal_length_size(codec.extradata)
            for packet in container.demux(stream):
                if (
                    skippable
                    and packet.size
                    and packet.pts is not None
                    and anchor.unwrap(packet.pts) not in remaining
                    and is_disposable(bytes(packet), length_size)
                ):
                    continue  # a picture nothing references and nobody asked for
                for picture in codec.decode(packet if packet.size else None):
                    number = remaining.pop(anchor.unwrap(picture.pts), None) if picture.pts is not None else None
                    if number is not None:
                        emit(number, picture)
                if not remaining:
                    break
        finally:
            container.close()

    # -- helpers ---------------------------------------------------------------------------------------------

    def _open(self, data: bytes) -> av.container.InputContainer:
        # The format is always named: a probed segment could be a playlist that makes FFmpeg open other files.
        container = av.open(io.BytesIO(data), mode="r", format=self.playlist.segment_format)
        if not container.streams.video:
            container.close()
            raise HlsError("the segments have no video stream", file=self.name)
        return container

    def _once(self, key: object, lookup: Callable[[], V | None], compute: Callable[[], V]) -> V:
        """``lookup()`` if it has the value, else ``compute()`` it, in one thread per ``key`` at a time (the
        others wait, then look up again), so concurrent tasks never fetch or demux the same thing twice."""
        while True:
            with self._lock:
                value = lookup()
                if value is not None:
                    return value
                event = self._in_flight.get(key)
                if event is None:
                    event = self._in_flight[key] = threading.Event()
                    break
            event.wait()
        try:
            return compute()
        finally:
            with self._lock:
                self._in_flight.pop(key, None)
            event.set()


def _past_end(name: str, frame: int) -> InputError:
    return InputError(f"frame {frame} is past the end of the video", file=name, field="frame")


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


def _number(text: str, location: VideoLocation, line: int) -> float:
    try:
        return float(text)
    except ValueError:
        raise HlsError(f"line {line}: {text!r} is not a number", file=location.display) from None


def _decode(raw: bytes, location: VideoLocation) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise HlsError("the playlist is not UTF-8 text", file=location.display) from None
