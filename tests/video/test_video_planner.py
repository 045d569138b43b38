"""The planner: GOP grouping, chaining instead of seeking, and balanced tasks."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cvops.video.frame_table import FrameTable, StreamInfo
from cvops.video.planner import partition_in_order, plan_mp4

INFO = StreamInfo(0, Fraction(1, 90000), 0, Fraction(25), 160, 90, "h264")


def table(gop_sizes: list[int], *, discard_first: int = 0) -> FrameTable:
    """A frame table with GOPs of the given sizes (1 keyframe each); ``discard_first`` edit-list samples."""
    n = sum(gop_sizes)
    keyframe = np.zeros(n, bool)
    keyframe[np.concatenate([[0], np.cumsum(gop_sizes)[:-1]])] = True
    discard = np.zeros(n, bool)
    discard[:discard_first] = True
    dts = np.arange(n, dtype=np.int64) * 3600
    return FrameTable(INFO, dts, np.arange(n) * 1000, np.full(n, 1000), keyframe, discard)


def test_gops_number_presented_frames() -> None:
    t = table([10, 10, 5], discard_first=3)
    assert t.n_frames == 22
    assert t.gop_first_frame.tolist() == [1, 8, 18]
    assert t.gops_of_frames(np.array([1, 7, 8, 17, 18, 22])).tolist() == [0, 0, 1, 1, 2, 2]


def test_frames_of_one_gop_are_decoded_in_one_run() -> None:
    plans = plan_mp4(table([50] * 4), [60, 52, 99, 51], max_tasks=1, seek_cost_frames=5)
    assert [[(r.first_gop, r.last_gop, r.frames) for r in task] for task in plans] == [[(1, 1, (51, 52, 60, 99))]]


def test_a_seek_is_kept_when_decoding_on_would_waste_more() -> None:
    # Frame 5 then frame 105: decoding on wastes frames 6-100 (95 > 10), so seek to GOP 2.
    plans = plan_mp4(table([50] * 4), [5, 105], max_tasks=1, seek_cost_frames=10)
    assert [(r.first_gop, r.last_gop) for r in plans[0]] == [(0, 0), (2, 2)]


def test_decoding_on_replaces_a_seek_when_cheaper() -> None:
    # Frame 48 then 52: only frames 49-50 are wasted by decoding on into GOP 1.
    plans = plan_mp4(table([50] * 4), [48, 52], max_tasks=1, seek_cost_frames=10)
    assert [(r.first_gop, r.last_gop, r.frames) for r in plans[0]] == [(0, 1, (48, 52))]


def test_dense_requests_become_one_sequential_pass_split_for_the_workers() -> None:
    frames = list(range(1, 201, 3))  # a frame in every GOP, none far from the next
    plans = plan_mp4(table([20] * 10), frames, max_tasks=4, seek_cost_frames=5)
    runs = [r for task in plans for r in task]
    assert len(plans) == 4 and len(runs) == 4  # one pass split in four, one seek each
    assert sorted(f for r in runs for f in r.frames) == frames
    assert runs[0].first_gop == 0 and all(a.last_gop < b.first_gop for a, b in itertools.pairwise(runs))


def test_tasks_preserve_file_order_and_cover_each_frame_once() -> None:
    rng = np.random.default_rng(0)
    frames = sorted(rng.choice(np.arange(1, 1001), 40, replace=False).tolist())
    plans = plan_mp4(table([25] * 40), frames, max_tasks=6, seek_cost_frames=8)
    flat = [f for task in plans for run in task for f in run.frames]
    assert flat == frames and len(plans) <= 6


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 50), min_size=1, max_size=40), st.integers(1, 10))
def test_partition_in_order_is_contiguous_and_complete(costs: list[int], parts: int) -> None:
    items = list(range(len(costs)))
    pieces = partition_in_order(items, costs, parts)
    assert [i for piece in pieces for i in piece] == items
    assert all(pieces) and len(pieces) == min(parts, len(items))


def test_partition_balances_cost() -> None:
    pieces = partition_in_order(list(range(8)), [10] * 8, 4)
    assert [len(p) for p in pieces] == [2, 2, 2, 2]


def test_a_table_without_keyframes_is_refused() -> None:
    with pytest.raises(ValueError, match="no keyframe"):
        FrameTable(INFO, np.arange(3), np.arange(3), np.ones(3), np.zeros(3, bool), np.zeros(3, bool))
