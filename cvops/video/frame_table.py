"""The frame table of an mp4: every sample of the video stream, from the container index, grouped into GOPs.

Frame numbers are 1-based in presentation order (frame 1 is the first frame a decoder outputs), the numbering of
the labels. ``index / fps`` gets that wrong for non-zero start times, edit lists and variable frame rate, so the
table is built from the index FFmpeg reads out of the ``moov`` box (no media data is fetched): per sample in decode
order its decode timestamp, byte position and size, and the keyframe and edit-list discard flags.

A GOP (keyframe up to the next keyframe, in decode order) presents a contiguous run of frames: every picture of a
GOP is presented after every picture of the GOP before it. So the frames a GOP presents are numbered by counting
the presented (non-discarded) samples of the GOPs before it, and frame ``first_frame[g] + r`` is the sample of GOP
``g`` with the ``r``-th smallest presentation timestamp. Those timestamps come from the packets read when the GOP
is decoded, so the table needs no composition offsets and no frame rate. Samples before the first keyframe cannot
be decoded and are not numbered.

Tables are cached under the sample store, keyed by the video's content fingerprint.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from cvops.io import write_parquet_atomic

_COLUMNS = ("dts", "pos", "size", "keyframe", "discard")


@dataclass(frozen=True)
class StreamInfo:
    """What the readers need to know about the video stream besides its samples."""

    stream_index: int
    time_base: Fraction
    start_time: int | None
    average_rate: Fraction | None
    width: int
    height: int
    codec: str

    def to_json(self) -> str:
        fields = {k: (str(v) if isinstance(v, Fraction) else v) for k, v in self.__dict__.items()}
        return json.dumps(fields, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> StreamInfo:
        raw = json.loads(text)
        raw["time_base"] = Fraction(raw["time_base"])
        raw["average_rate"] = Fraction(raw["average_rate"]) if raw["average_rate"] else None
        return cls(**raw)


@dataclass(frozen=True, eq=False)
class FrameTable:
    """Samples of the video stream in decode order, and the GOPs they form (see the module docstring)."""

    info: StreamInfo
    dts: np.ndarray
    pos: np.ndarray
    size: np.ndarray
    keyframe: np.ndarray
    discard: np.ndarray
    gop_start: np.ndarray = field(init=False)
    gop_stop: np.ndarray = field(init=False)
    gop_first_frame: np.ndarray = field(init=False)
    gop_n_frames: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        n = len(self.dts)
        if n == 0 or not self.keyframe.any():
            raise ValueError("the video stream has no keyframe in its index")
        if np.any(np.diff(self.dts) < 0):
            raise ValueError("decode timestamps in the index go backwards")
        starts = np.flatnonzero(self.keyframe)
        stops = np.append(starts[1:], n)
        presented = np.add.reduceat((~self.discard).astype(np.int64), starts)
        first = 1 + np.concatenate([[0], np.cumsum(presented)[:-1]])
        object.__setattr__(self, "gop_start", starts)
        object.__setattr__(self, "gop_stop", stops)
        object.__setattr__(self, "gop_n_frames", presented)
        object.__setattr__(self, "gop_first_frame", first)

    @classmethod
    def from_stream(cls, stream: av.video.stream.VideoStream) -> FrameTable:
        """Read the index of an open stream. Raises ``ValueError`` when the container has no complete index."""
        entries = stream.index_entries
        count = len(entries)
        if count == 0 or (stream.frames and count < stream.frames):
            raise ValueError(
                f"the container index lists {count} of {stream.frames} samples (a fragmented MP4?); "
                "remux it with `-movflags +faststart` to get a complete index"
            )
        dts = np.empty(count, np.int64)
        pos = np.empty(count, np.int64)
        size = np.empty(count, np.int64)
        keyframe = np.empty(count, bool)
        discard = np.empty(count, bool)
        for i, entry in enumerate(entries):
            dts[i], pos[i], size[i] = entry.timestamp, entry.pos, entry.size
            keyframe[i], discard[i] = entry.is_keyframe, entry.is_discard
        context = stream.codec_context
        info = StreamInfo(
            stream_index=stream.index,
            time_base=Fraction(stream.time_base),
            start_time=stream.start_time,
            average_rate=Fraction(stream.average_rate) if stream.average_rate else None,
            width=context.width,
            height=context.height,
            codec=context.name,
        )
        return cls(info, dts, pos, size, keyframe, discard)

    @property
    def n_frames(self) -> int:
        return int(self.gop_first_frame[-1] + self.gop_n_frames[-1] - 1)

    @property
    def n_gops(self) -> int:
        return len(self.gop_start)

    def gops_of_frames(self, frames: np.ndarray) -> np.ndarray:
        """GOP index of each 1-based frame number (which must be in ``1 .. n_frames``)."""
        return np.searchsorted(self.gop_first_frame, frames, side="right") - 1

    def gop_of_sample(self, sample: int) -> int:
        """GOP index of a sample, -1 for samples before the first keyframe."""
        return int(np.searchsorted(self.gop_start, sample, side="right")) - 1

    def sample_of_packet(self, dts: int | None, pos: int | None, hint: int) -> int | None:
        """The sample a demuxed packet is, trying ``hint`` (the expected one) first; None when it is none of ours."""
        if dts is None:
            return None
        if 0 <= hint < len(self.dts) and self.dts[hint] == dts and (pos is None or pos < 0 or self.pos[hint] == pos):
            return hint
        candidates = np.flatnonzero(self.dts == dts)
        for sample in candidates:
            if pos is None or pos < 0 or self.pos[sample] == pos:
                return int(sample)
        return None

    def save(self, path: Path) -> None:
        table = pa.table({name: getattr(self, name) for name in _COLUMNS})
        table = table.replace_schema_metadata({b"cvops.stream": self.info.to_json().encode()})
        write_parquet_atomic(path, table)

    @classmethod
    def load(cls, path: Path) -> FrameTable:
        table = pq.read_table(path)
        info = StreamInfo.from_json(table.schema.metadata[b"cvops.stream"].decode())
        columns = {name: table.column(name).to_numpy() for name in _COLUMNS}
        return cls(info, **columns)
