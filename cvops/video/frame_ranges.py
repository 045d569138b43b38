"""Frame numbers given as ranges (``1-10,250``), kept as ranges until the video says how many frames it has.

``cvops frames V --frames 1-300000000`` must be refused by comparing 300 000 000 with the video's frame count,
not by building a list of 300 million numbers first. :class:`FrameRanges` is a ``Sequence[int]`` that
:func:`cvops.video.extract_frames` accepts like a list; it is expanded only after its last frame has been checked
against the video.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import overload

from cvops.errors import InputError


class FrameRanges(Sequence[int]):
    """Sorted, disjoint, inclusive ranges of 1-based frame numbers, iterated in order without being stored."""

    def __init__(self, ranges: Iterable[tuple[int, int]]) -> None:
        merged: list[tuple[int, int]] = []
        for low, high in sorted(ranges):
            if low < 1 or high < low:
                raise InputError(f"{low}-{high}: frames are numbered from 1 and ranges go upwards", field="frames")
            if merged and low <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], high))
            else:
                merged.append((low, high))
        self.ranges = tuple(merged)
        self._ends = list(itertools.accumulate(high - low + 1 for low, high in merged))

    @property
    def last(self) -> int:
        return self.ranges[-1][1] if self.ranges else 0

    def __len__(self) -> int:
        return self._ends[-1] if self._ends else 0

    @overload
    def __getitem__(self, index: int) -> int: ...
    @overload
    def __getitem__(self, index: slice) -> list[int]: ...
    def __getitem__(self, index: int | slice) -> int | list[int]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        k = bisect.bisect_right(self._ends, index)
        before = self._ends[k - 1] if k else 0
        return self.ranges[k][0] + index - before

    def __iter__(self) -> Iterator[int]:
        for low, high in self.ranges:
            yield from range(low, high + 1)

    def __repr__(self) -> str:
        return f"FrameRanges({format_ranges(self.ranges)!r})"


def parse_frame_ranges(spec: str) -> FrameRanges:
    """``"1,250,1000"`` or with ranges ``"1-10,250"``; raises an ``InputError`` (field ``frames``) when bad."""
    ranges = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        first, dash, last = part.partition("-")
        if not _is_number(first) or (dash and not _is_number(last)):
            raise InputError(f"{part[:40]!r} is not a frame number or a range like 10-20", field="frames")
        low = int(first)
        high = int(last) if dash else low
        if low < 1 or high < low:
            raise InputError(f"{part!r}: frames are numbered from 1 and ranges go upwards", field="frames")
        ranges.append((low, high))
    if not ranges:
        raise InputError("no frames given", field="frames")
    return FrameRanges(ranges)


def format_ranges(ranges: Sequence[tuple[int, int]]) -> str:
    return ",".join(str(low) if low == high else f"{low}-{high}" for low, high in ranges)


def _is_number(text: str) -> bool:
    # At most 18 digits: anything longer is past every video, and int() of a huge string is itself slow.
    return text.strip().isascii() and text.strip().isdigit() and len(text.strip()) <= 18
