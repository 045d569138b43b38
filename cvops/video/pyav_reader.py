"""Exact frames from an mp4 with PyAV: seek to a GOP's keyframe, decode forward, pick frames by timestamp.

:class:`Mp4Decoder` reads runs of consecutive GOPs (see :mod:`cvops.video.planner`) through one open container.
For each run it seeks to the first GOP's keyframe, checks that the demuxer really delivers that sample (the packet's
decode timestamp and byte position must match the frame table) and decodes forward. A wanted frame is the GOP
sample with the ``r``-th smallest presentation timestamp; a decoded picture with timestamp ``P`` can be matched to
its rank as soon as every packet with ``dts <= P`` has been read (no later packet can present earlier, because
``pts >= dts``), so nothing beyond the decoder's own reordering delay is read. At the end of a run the decoder is
drained instead of reading on. H.264 pictures that nothing references and that cannot be a wanted frame are not
decoded at all (:mod:`cvops.video.h264`).

When the demuxer returns a sample other than the one expected, the container is reopened and the run retried;
a wanted picture the decoder did not output (the leading pictures of an open GOP) is retried from the keyframe
before. Anything still missing is an error, never a neighbouring frame.

:class:`PyavSeekReader` is the textbook per-frame method (seek by time ``start + (n - 1) / fps``, decode until the
timestamp is reached), kept as the benchmark's floor for small requests and as a selectable strategy.
"""

from __future__ import annotations

import bisect
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
from av.stream import Discard

from cvops.video.errors import FrameExtractionError
from cvops.video.frame_table import FrameTable
from cvops.video.h264 import is_disposable, nal_length_size
from cvops.video.planner import DecodeRun

EmitFrame = Callable[[int, av.VideoFrame], None]


class _WrongSample(Exception):
    """The demuxer delivered a sample other than the one the frame table says comes next."""


def open_mp4(file: io.RawIOBase, decoder_threads: int) -> tuple[av.container.InputContainer, av.VideoStream]:
    """Open an mp4 from a file object, never letting FFmpeg probe the format (a probed "mp4" could be a
    playlist that makes FFmpeg open other files). Streams other than the first video stream are discarded, so
    their bytes are skipped."""
    container = av.open(file, mode="r", format="mp4")
    if not container.streams.video:
        container.close()
        raise FrameExtractionError("the file has no video stream")
    stream = container.streams.video[0]
    for other in container.streams:
        if other is not stream:
            other.discard = Discard.all
    stream.thread_type = "AUTO"
    stream.codec_context.thread_count = decoder_threads
    return container, stream


@dataclass
class _RunState:
    """Bookkeeping while one run is decoded."""

    targets: dict[int, dict[int, int]]  # gop -> rank within the GOP -> frame number
    known_pts: dict[int, list[int]]  # gop -> presented timestamps read so far (sorted)
    gop_of_pts: dict[int, int]
    pending: dict[int, av.VideoFrame]  # decoded pictures whose rank is not settled yet

    @property
    def remaining(self) -> int:
        return sum(len(ranks) for ranks in self.targets.values())


class Mp4Decoder:
    """Decodes runs of one mp4 through one open container (reopened when it misbehaves). Not thread-safe: one
    per worker task."""

    def __init__(
        self,
        open_file: Callable[[], io.RawIOBase],
        table: FrameTable,
        *,
        name: str,
        decoder_threads: int = 0,
        skip_unreferenced: bool = True,
    ) -> None:
        self._open_file = open_file
        self.table = table
        self.name = name
        self._decoder_threads = decoder_threads
        self._skip_unreferenced = skip_unreferenced
        self._container: av.container.InputContainer | None = None
        self._stream: av.VideoStream | None = None
        self._packets: Iterator[av.Packet] | None = None
        self._lookahead: av.Packet | None = None
        # What FFmpeg's mov demuxer subtracts from a seek target before searching decode timestamps (it treats
        # the target as a presentation time); learned from the first seek that lands elsewhere.
        self._seek_offset: int | None = None
        self.reopened = 0
        self.packets_decoded = 0
        self.packets_skipped = 0

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
        self._container = self._stream = self._packets = self._lookahead = None

    def __enter__(self) -> Mp4Decoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def decode(self, runs: Sequence[DecodeRun], emit: EmitFrame) -> None:
        """Emit every frame of every run, each exactly once, as ``emit(frame_number, picture)``."""
        for run in runs:
            missing = self._decode_with_reopen(run.first_gop, list(run.frames), emit)
            if missing:
                # Leading pictures of an open GOP need the GOP before; try once from there.
                gops = self.table.gops_of_frames(np.asarray(missing))
                start = int(gops.min()) - 1
                if start >= 0:
                    missing = self._decode_with_reopen(start, missing, emit)
            if missing:
                raise FrameExtractionError(
                    f"{self.name}: frame(s) {', '.join(map(str, missing))} were not produced by the decoder "
                    "(damaged stream or a GOP that cannot be decoded on its own)"
                )

    def _decode_with_reopen(self, first_gop: int, frames: list[int], emit: EmitFrame) -> list[int]:
        done: set[int] = set()

        def emit_once(number: int, picture: av.VideoFrame) -> None:
            if number not in done:
                done.add(number)
                emit(number, picture)

        for attempt in range(3):
            try:
                self._decode_run(first_gop, [f for f in frames if f not in done], emit_once)
                return [f for f in frames if f not in done]
            except _WrongSample as exc:
                if attempt == 2:
                    raise FrameExtractionError(
                        f"{self.name}: frame(s) {', '.join(map(str, frames))}: the demuxer keeps returning the "
                        f"wrong sample ({exc}) after reopening the video"
                    ) from exc
                self.close()
                self.reopened += 1
        raise AssertionError("unreachable")

    def _ensure_open(self) -> None:
        if self._container is None:
            self._container, self._stream = open_mp4(self._open_file(), self._decoder_threads)

    def _decode_run(self, first_gop: int, frames: list[int], emit: EmitFrame) -> None:
        table = self.table
        self._ensure_open()
        state = _RunState(targets={}, known_pts={}, gop_of_pts={}, pending={})
        gops = table.gops_of_frames(np.asarray(frames))
        for number, gop in zip(frames, gops, strict=True):
            state.targets.setdefault(int(gop), {})[number - int(table.gop_first_frame[gop])] = number
        last_sample = int(table.gop_stop[max(state.targets)])
        sample = int(table.gop_start[first_gop])
        self._seek_to_sample(sample)
        codec = self._stream.codec_context
        length_size = nal_length_size(codec.extradata) if self._skip_unreferenced and codec.name == "h264" else 0
        while sample < last_sample:
            packet = self._next_packet()
            if packet is None:
                break
            found = table.sample_of_packet(packet.dts, packet.pos, sample)
            if found != sample:
                raise _WrongSample(f"expected sample {sample}, got dts={packet.dts} pos={packet.pos}")
            gop = table.gop_of_sample(sample)
            if not table.discard[sample] and gop in state.targets:
                if packet.pts is None:
                    raise FrameExtractionError(f"{self.name}: sample {sample} has no presentation timestamp")
                bisect.insort(state.known_pts.setdefault(gop, []), packet.pts)
                state.gop_of_pts[packet.pts] = gop
            skip = (
                length_size != 0
                and not table.keyframe[sample]
                and is_disposable(bytes(packet), length_size)
                and not self._may_be_wanted(state, gop, sample, packet.pts)
            )
            sample += 1
            next_dts = int(table.dts[sample]) if sample < len(table.dts) else None
            if skip:
                self.packets_skipped += 1
            else:
                self.packets_decoded += 1
                for picture in codec.decode(packet):
                    self._offer(picture, state)
            self._settle(state, next_dts, emit)
            if not state.remaining:
                return
        # Every packet of the run is in: drain the decoder rather than reading further.
        for picture in codec.decode(None):
            self._offer(picture, state)
        self._settle(state, None, emit)

    def _may_be_wanted(self, state: _RunState, gop: int, sample: int, pts: int | None) -> bool:
        """Could the picture of ``sample`` (timestamp ``pts``) end up at a wanted rank of its GOP? Its rank is at
        least its place among the timestamps read so far, and grows by at most the number of samples still to
        come whose dts (a lower bound of their pts) is below ``pts``."""
        ranks = state.targets.get(gop)
        if not ranks or pts is None or self.table.discard[sample]:
            return False
        low = bisect.bisect_left(state.known_pts[gop], pts)
        stop = int(self.table.gop_stop[gop])
        earlier = max(0, min(int(np.searchsorted(self.table.dts, pts, side="left")), stop) - (sample + 1))
        return any(low <= rank <= low + earlier for rank in ranks)

    @staticmethod
    def _offer(picture: av.VideoFrame, state: _RunState) -> None:
        if picture.pts is not None and picture.pts in state.gop_of_pts:
            state.pending[picture.pts] = picture

    @staticmethod
    def _settle(state: _RunState, next_dts: int | None, emit: EmitFrame) -> None:
        for pts in sorted(state.pending):
            if next_dts is not None and pts >= next_dts:
                break  # a packet still to come may present earlier, so this picture's rank may change
            picture = state.pending.pop(pts)
            gop = state.gop_of_pts[pts]
            ranks = state.targets.get(gop)
            if not ranks:
                continue
            number = ranks.pop(bisect.bisect_left(state.known_pts[gop], pts), None)
            if number is not None:
                emit(number, picture)
            if not ranks:
                del state.targets[gop]

    def _next_packet(self) -> av.Packet | None:
        if self._lookahead is not None:
            packet, self._lookahead = self._lookahead, None
            return packet
        for packet in self._packets:
            if packet.dts is None and packet.size == 0:
                return None  # the demuxer's end-of-stream flush packet
            return packet
        return None

    def _seek_to_sample(self, sample: int) -> None:
        """Position the demuxer so that the next packet is ``sample`` (a keyframe)."""
        table = self.table
        if self._seek_offset is None:
            presented = int(table.dts[table.gop_start[0]])
            start = table.info.start_time
            self._seek_offset = (start - presented) if start is not None else 0
        for _ in range(2):
            target = int(table.dts[sample]) + self._seek_offset
            landed = self._seek(target, any_frame=False)
            if landed == sample:
                return
            # Calibrate: an any-frame seek lands on the last sample whose dts <= target - offset.
            probe = self._seek(target, any_frame=True)
            if probe is None:
                break
            self._seek_offset = target - int(table.dts[probe])
        # Last resort: start at an earlier keyframe and read forward to the sample.
        landed = self._seek(int(table.dts[sample]) + (self._seek_offset or 0), any_frame=False)
        if landed is None or landed > sample:
            landed = self._seek(int(table.dts[0]) - 1, any_frame=False)
        if landed is None or landed > sample:
            raise _WrongSample(f"cannot seek to sample {sample}")
        while landed < sample:
            self._lookahead = None  # skip the queued packet (sample `landed`) without decoding it
            packet = self._next_packet()
            landed = None if packet is None else table.sample_of_packet(packet.dts, packet.pos, landed + 1)
            if landed is None:
                raise _WrongSample(f"lost track of samples before sample {sample}")
            self._lookahead = packet

    def _seek(self, target: int, *, any_frame: bool) -> int | None:
        """Seek and peek at the first packet; return the sample it is (the packet stays queued)."""
        self._container.seek(target, stream=self._stream, backward=True, any_frame=any_frame)
        self._packets = self._container.demux(self._stream)
        self._lookahead = None
        packet = self._next_packet()
        if packet is None:
            return None
        self._lookahead = packet
        return self.table.sample_of_packet(packet.dts, packet.pos, -1)


class PyavSeekReader:
    """The per-frame baseline: seek by time computed as ``start + (n - 1) / fps``, decode until reached.

    Exact only for constant frame rate without edit lists; kept to measure the exact method against.
    """

    def __init__(self, open_file: Callable[[], io.RawIOBase], table: FrameTable, *, decoder_threads: int = 0):
        self.table = table
        self._container, self._stream = open_mp4(open_file(), decoder_threads)

    def close(self) -> None:
        self._container.close()

    def read(self, frames: Sequence[int], emit: EmitFrame) -> None:
        info = self.table.info
        if not info.average_rate:
            raise FrameExtractionError("the video has no frame rate; time-based seeking cannot be used")
        frame_ticks = 1 / (info.average_rate * info.time_base)
        start = info.start_time or 0
        for number in frames:
            target = start + Fraction(number - 1) * frame_ticks
            self._container.seek(int(target), stream=self._stream, backward=True)
            for picture in self._container.decode(self._stream):
                if picture.pts is not None and picture.pts >= target - frame_ticks / 2:
                    emit(number, picture)
                    break
            else:
                raise FrameExtractionError(f"frame {number} is past the end of the video")
