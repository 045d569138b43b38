"""Skipping H.264 pictures that nothing references: detection on real packets, and exactness with and without it."""

from __future__ import annotations

import av
import pytest

from cvops.video.frame_table import FrameTable
from cvops.video.framecode import read_frame_code
from cvops.video.h264 import is_disposable, nal_length_size
from cvops.video.options import ReaderSettings
from cvops.video.planner import plan_mp4
from cvops.video.pyav_reader import Mp4Decoder, open_mp4
from cvops.video.rangefile import BlockReader, RangeFile
from cvops.video.transport import LocalTransport


def disposable_flags(path, fmt: str | None = None) -> list[bool]:
    with av.open(str(path), format=fmt) as container:
        stream = container.streams.video[0]
        size = nal_length_size(stream.codec_context.extradata)
        return [is_disposable(bytes(p), size) for p in container.demux(stream) if p.size]


def test_b_pyramid_leaves_unreferenced_b_frames(mp4_videos, hls_videos) -> None:
    # x264 with 3 B-frames and a B-pyramid: the middle B of each group is a reference, the other two are not.
    flags = disposable_flags(mp4_videos["bframes"].path)
    assert flags[0] is False and 0.3 < sum(flags) / len(flags) < 0.6
    segment = hls_videos["ts"].path.parent / "seg001.ts"
    ts_flags = disposable_flags(segment, "mpegts")  # Annex B start codes
    assert ts_flags[0] is False and any(ts_flags)


def test_parameter_sets_and_garbage_are_never_disposable() -> None:
    sps_and_b = b"\x00\x00\x00\x02\x67\x00" + b"\x00\x00\x00\x02\x01\x00"
    assert not is_disposable(sps_and_b, 4)
    assert is_disposable(b"\x00\x00\x00\x02\x01\x00", 4)  # nal_ref_idc 0, non-IDR slice
    assert not is_disposable(b"\x00\x00\x00\x09\x01", 4)  # length past the end: treated as a reference
    assert not is_disposable(b"", 4) and not is_disposable(b"\x00\x00\x01\x06\x05", None)  # SEI only


@pytest.mark.parametrize("skip", [True, False])
def test_frames_are_exact_with_and_without_skipping(skip, mp4_videos) -> None:
    path = str(mp4_videos["bframes"].path)
    transport = LocalTransport(ReaderSettings())
    blocks = BlockReader(transport, path, transport.stat(path).size, block_size=1 << 16, cache_bytes=1 << 24)
    container, stream = open_mp4(RangeFile(blocks), 1)
    table = FrameTable.from_stream(stream)
    container.close()
    frames = [58, 59, 60, 118, 177, 238, 239]  # late in their GOPs, where skipping matters
    codes = {}
    with Mp4Decoder(lambda: RangeFile(blocks), table, name=path, skip_unreferenced=skip) as decoder:
        runs = [run for task in plan_mp4(table, frames, max_tasks=1, seek_cost_frames=0) for run in task]
        decoder.decode(runs, lambda n, p: codes.__setitem__(n, read_frame_code(p.to_ndarray(format="rgb24"))))
        assert codes == {f: f for f in frames}
        assert (decoder.packets_skipped > 0) == skip
        if skip:
            assert decoder.packets_skipped > 0.3 * (decoder.packets_decoded + decoder.packets_skipped)


def _decoder(mp4_videos, name: str) -> tuple[FrameTable, BlockReader]:
    path = str(mp4_videos[name].path)
    transport = LocalTransport(ReaderSettings())
    blocks = BlockReader(transport, path, transport.stat(path).size, block_size=1 << 16, cache_bytes=1 << 24)
    container, stream = open_mp4(RangeFile(blocks), 1)
    table = FrameTable.from_stream(stream)
    container.close()
    return table, blocks


@pytest.mark.parametrize("offset", [0, -50_000, 10**9])
def test_a_wrong_seek_offset_is_recalibrated(offset, mp4_videos) -> None:
    """FFmpeg's mov seek shifts the target by an offset it does not expose; a bad guess must not cost exactness."""
    table, blocks = _decoder(mp4_videos, "start")
    codes = {}
    with Mp4Decoder(lambda: RangeFile(blocks), table, name="start") as decoder:
        decoder._seek_offset = offset
        runs = [run for task in plan_mp4(table, [40, 100], max_tasks=1, seek_cost_frames=0) for run in task]
        decoder.decode(runs, lambda n, p: codes.__setitem__(n, read_frame_code(p.to_ndarray(format="rgb24"))))
    assert codes == {40: 40, 100: 100}


def test_a_demuxer_that_returns_the_wrong_sample_is_reopened(mp4_videos, monkeypatch) -> None:
    table, blocks = _decoder(mp4_videos, "ntsc")
    original = FrameTable.sample_of_packet
    calls = {"n": 0}

    def flaky(self, dts, pos, hint):
        calls["n"] += 1
        return None if calls["n"] == 5 else original(self, dts, pos, hint)  # one packet looks foreign

    monkeypatch.setattr(FrameTable, "sample_of_packet", flaky)
    codes = {}
    with Mp4Decoder(lambda: RangeFile(blocks), table, name="ntsc") as decoder:
        runs = [run for task in plan_mp4(table, [60], max_tasks=1, seek_cost_frames=0) for run in task]
        decoder.decode(runs, lambda n, p: codes.__setitem__(n, read_frame_code(p.to_ndarray(format="rgb24"))))
        assert decoder.reopened == 1
    assert codes == {60: 60}
