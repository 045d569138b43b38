"""Frame tables built from the container index agree with what a decoder outputs."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from cvops.video import extract_frames
from cvops.video.codedvideo import CodedVideoSpec, coded_frames
from cvops.video.frame_table import FrameTable
from tests.video.conftest import image_code


def table_of(path: Path) -> FrameTable:
    with av.open(str(path)) as container:
        return FrameTable.from_stream(container.streams.video[0])


@pytest.mark.parametrize("name", ["bframes", "start", "ntsc", "vfr", "editlist"])
def test_frame_count_matches_a_full_decode(name, mp4_videos) -> None:
    video = mp4_videos[name]
    table = table_of(video.path)
    assert table.n_frames == video.n_frames
    assert table.gop_n_frames.sum() == video.n_frames


def test_edit_list_samples_are_discarded_not_numbered(mp4_videos) -> None:
    table = table_of(mp4_videos["editlist"].path)
    assert table.discard.sum() > 0
    assert len(table.dts) - table.discard.sum() == mp4_videos["editlist"].n_frames


def test_variable_frame_rate_is_in_the_timestamps(mp4_videos) -> None:
    table = table_of(mp4_videos["vfr"].path)
    durations = set(np.diff(table.dts).tolist())
    assert len(durations) > 2  # several frame durations: index / fps would be wrong


def test_save_and_load_round_trip(mp4_videos, tmp_path) -> None:
    table = table_of(mp4_videos["start"].path)
    table.save(tmp_path / "t.parquet")
    loaded = FrameTable.load(tmp_path / "t.parquet")
    assert loaded.info == table.info and loaded.info.start_time == 900000
    for name in ("dts", "pos", "size", "keyframe", "discard", "gop_first_frame"):
        assert np.array_equal(getattr(loaded, name), getattr(table, name))


def test_sample_of_packet_checks_dts_and_position(mp4_videos) -> None:
    table = table_of(mp4_videos["ntsc"].path)
    sample = int(table.gop_start[1])
    dts, pos = int(table.dts[sample]), int(table.pos[sample])
    assert table.sample_of_packet(dts, pos, sample) == sample
    assert table.sample_of_packet(dts, pos, -1) == sample
    assert table.sample_of_packet(dts, pos + 1, sample) is None
    assert table.sample_of_packet(None, pos, sample) is None


def test_a_fragmented_mp4_is_indexed_from_its_fragments(tmp_path, sample_store, settings) -> None:
    """No sample table in ``moov``: FFmpeg indexes the ``moof`` boxes when it opens the file, and frames stay exact
    (opening costs a read of every fragment header; docs/video.md)."""
    path = tmp_path / "fragmented.mp4"
    spec = CodedVideoSpec(90, gop=10)
    with av.open(str(path), "w", format="mp4", options={"movflags": "frag_keyframe+empty_moov"}) as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = spec.width, spec.height, "yuv420p"
        stream.codec_context.options = {"bf": "2"}
        for image in coded_frames(spec):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(stream.encode(None))
    result = extract_frames(str(path), [1, 45, 90], sample_store, settings=settings, fmt="png")
    assert [image_code(s.path) for s in result.samples] == [1, 45, 90]
