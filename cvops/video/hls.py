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

The playlist itself is parsed (and its URIs checked) by :mod:`cvops.video.playlist`.
"""

from __future__ import annotations

import io
import itertools
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TypeVar

import av
import numpy as np

from cvops.errors import InputError
from cvops.video.h264 import is_disposable, nal_length_size
from cvops.video.playlist import HlsError, HlsResource, MediaPlaylist
from cvops.video.transport import SizeLimit, Transport

EmitFrame = Callable[[int, av.VideoFrame], None]
V = TypeVar("V")

_MPEG_TS_WRAP_BITS = 33


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
            limit = SizeLimit(self.transport.settings.max_segment_bytes, "max_segment_bytes")
            if stop is not None and stop - start > limit.bytes:
                raise limit.error(resource.location.uri)
            data = self.transport.read(resource.location.uri, start, stop, limit=limit)
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

    def max_frames(self) -> int:
        """An upper bound of the frame count from the playlist (no segment is decoded beyond the first): every
        ``#EXTINF`` may be rounded by up to a second, and a segment may hold one frame more than its duration."""
        anchor = self.anchor
        seconds = Fraction(sum(segment.duration for segment in self.playlist.segments) + self.n_segments)
        frame_seconds = anchor.frame_ticks * anchor.time_base
        return int(seconds.limit_denominator(1000) / frame_seconds) + 2 * self.n_segments

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
