"""Which GOPs (or HLS segments) to decode, in which order, in how many parallel tasks.

Every wanted frame lies in one GOP; decoding a GOP from its keyframe up to its last wanted frame yields all of its
wanted frames at once, so frames are first grouped by GOP. Consecutive groups are then chained into one run
(decode on instead of seeking) when the frames decoded only to get from one group to the next cost less than a
seek: for many frames per video this turns into one sequential pass, for a few it stays one seek per GOP. Runs are
finally cut into contiguous tasks of similar decoding cost for the worker pool; a long sequential run is split at
GOP boundaries first when there are fewer runs than tasks (each split costs one seek, and buys parallelism).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from cvops.video.frame_table import FrameTable

T = TypeVar("T")


@dataclass(frozen=True)
class DecodeRun:
    """Decode from the keyframe of ``first_gop`` without seeking until every frame in ``frames`` is out."""

    first_gop: int
    last_gop: int
    frames: tuple[int, ...]
    cost: int  # frames decoded, plus one seek


def plan_mp4(
    table: FrameTable, frames: Sequence[int], *, max_tasks: int, seek_cost_frames: int
) -> list[list[DecodeRun]]:
    """Tasks (each a list of runs in file order, for one open container) covering ``frames`` exactly once."""
    wanted = np.unique(np.asarray(frames, dtype=np.int64))
    if wanted.size == 0:
        return []
    gops = table.gops_of_frames(wanted)
    groups: list[tuple[int, list[int]]] = []
    for gop, number in zip(gops.tolist(), wanted.tolist(), strict=True):
        if groups and groups[-1][0] == gop:
            groups[-1][1].append(number)
        else:
            groups.append((gop, [number]))

    def span(first_gop: int, gop: int, last_frame: int) -> int:
        """Frames decoded from the keyframe of ``first_gop`` up to ``last_frame`` (in GOP ``gop``)."""
        before = int(table.gop_n_frames[first_gop:gop].sum())
        return before + last_frame - int(table.gop_first_frame[gop]) + 1

    run_groups: list[list[tuple[int, list[int]]]] = []
    for gop, numbers in groups:
        if run_groups:
            prev_gop, prev_numbers = run_groups[-1][-1]
            # Frames decoded only to reach this GOP's keyframe if we keep going instead of seeking.
            wasted = span(prev_gop, gop, int(table.gop_first_frame[gop]) - 1) - span(
                prev_gop, prev_gop, prev_numbers[-1]
            )
            if wasted <= seek_cost_frames:
                run_groups[-1].append((gop, numbers))
                continue
        run_groups.append([(gop, numbers)])

    def make_run(members: list[tuple[int, list[int]]]) -> DecodeRun:
        first, last = members[0][0], members[-1][0]
        numbers = tuple(n for _, group in members for n in group)
        return DecodeRun(first, last, numbers, span(first, last, numbers[-1]) + seek_cost_frames)

    # Split the costliest multi-GOP runs until there is work for every task.
    while len(run_groups) < max_tasks:
        splittable = [i for i, members in enumerate(run_groups) if len(members) > 1]
        if not splittable:
            break
        i = max(splittable, key=lambda j: make_run(run_groups[j]).cost)
        members = run_groups[i]
        run_groups[i : i + 1] = [members[: len(members) // 2], members[len(members) // 2 :]]
    runs = [make_run(members) for members in run_groups]
    return partition_in_order(runs, [run.cost for run in runs], max_tasks)


def partition_in_order(items: Sequence[T], costs: Sequence[float], parts: int) -> list[list[T]]:
    """Cut ``items`` into at most ``parts`` contiguous, non-empty pieces of similar total cost."""
    if not items:
        return []
    parts = max(1, min(parts, len(items)))
    total = float(sum(costs))
    pieces: list[list[T]] = [[]]
    spent = 0.0
    for index, (item, cost) in enumerate(zip(items, costs, strict=True)):
        remaining_items = len(items) - index
        remaining_parts = parts - len(pieces)
        boundary = total * len(pieces) / parts
        if pieces[-1] and remaining_parts > 0 and (spent + cost / 2 > boundary or remaining_items <= remaining_parts):
            pieces.append([])
        pieces[-1].append(item)
        spent += cost
    return pieces
