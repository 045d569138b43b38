"""Exactness end to end: every extracted sample shows the code of the frame that was asked for.

Ground truth is a sequential decode of the whole file (frame n = n-th picture out of the decoder), which is the
numbering the labels use.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from cvops.errors import InputError
from cvops.video import SampleStore, VideoRequest, extract_frames, extract_videos
from cvops.video.frame_table import FrameTable
from tests.video.conftest import CodedVideo, image_code, segment_frame_counts


def assert_exact(result, video: CodedVideo) -> None:
    wrong = {s.frame: image_code(s.path) for s in result.samples if image_code(s.path) != video.truth[s.frame - 1]}
    assert not wrong, f"frame -> code shown, expected truth[frame - 1]: {wrong}"


def spread(video: CodedVideo, count: int, seed: int = 0) -> list[int]:
    """First, last and random frames."""
    rng = random.Random(seed)
    return sorted({1, video.n_frames, *rng.sample(range(1, video.n_frames + 1), count)})


def test_truth_of_the_plain_videos_is_the_frame_number(mp4_videos: dict[str, CodedVideo]) -> None:
    for name in ("bframes", "start", "ntsc", "vfr", "audio"):
        assert mp4_videos[name].truth == tuple(range(1, mp4_videos[name].n_frames + 1))
    # The edit list hides the frames before 1.5 s, so frame 1 shows code 46 (1.5 s * 29.97 fps, rounded up).
    assert mp4_videos["editlist"].truth[0] == 46


@pytest.mark.parametrize("name", ["bframes", "start", "ntsc", "vfr", "editlist", "audio"])
def test_mp4_frames_are_exact_locally(name, mp4_videos, video_root, sample_store, settings) -> None:
    video = mp4_videos[name]
    frames = spread(video, 15)
    result = extract_frames(video.relative, frames, sample_store, base_dir=video_root, fmt="png", settings=settings)
    assert [s.frame for s in result.samples] == frames
    assert_exact(result, video)


@pytest.mark.parametrize("name", ["bframes", "vfr", "editlist", "audio"])
def test_mp4_frames_are_exact_over_http(name, mp4_videos, http_server, sample_store, settings) -> None:
    video = mp4_videos[name]
    frames = spread(video, 12, seed=1)
    result = extract_frames(http_server.url(video.relative), frames, sample_store, fmt="png", settings=settings)
    assert_exact(result, video)
    assert result.stats.bytes_read_from_source == http_server.bytes_sent[video.relative]


def test_every_frame_of_a_video_in_one_request(mp4_videos, video_root, sample_store, settings) -> None:
    video = mp4_videos["vfr"]
    frames = list(range(1, video.n_frames + 1))
    result = extract_frames(video.relative, frames, sample_store, base_dir=video_root, settings=settings, max_workers=3)
    assert_exact(result, video)
    assert result.stats.n_extracted == video.n_frames


def test_one_frame_reads_about_one_gop_not_the_file(mp4_videos, http_server, sample_store, settings, tmp_path) -> None:
    video = mp4_videos["bframes"]
    url = http_server.url(video.relative)
    frame = 150  # the middle of the third of five GOPs
    result = extract_frames(url, [frame], sample_store, fmt="png", settings=settings)
    assert_exact(result, video)
    table = FrameTable.load(next(sample_store.tables.glob("*.parquet")))
    gop = int(table.gops_of_frames(np.array([frame]))[0])
    gop_bytes = int(table.size[table.gop_start[gop] : table.gop_stop[gop]].sum())
    index_bytes = int(table.pos.min())  # faststart: everything before the first sample is header and index
    file_size = video.path.stat().st_size
    read = http_server.bytes_sent[video.relative]
    # Fingerprint (2 x 64 KiB), the index, one GOP, and at most a block of slack at either end.
    assert read <= 2 * (64 << 10) + index_bytes + gop_bytes + 2 * settings.block_size
    assert read < file_size / 2


def test_a_second_extraction_fetches_no_frame(mp4_videos, http_server, sample_store, settings) -> None:
    video = mp4_videos["bframes"]
    url = http_server.url(video.relative)
    first = extract_frames(url, [10, 100, 290], sample_store, settings=settings)
    http_server.reset_counters()
    again = extract_frames(url, [10, 100, 290], sample_store, settings=settings)
    assert again.stats.n_cached == 3 and again.stats.n_extracted == 0
    assert [s.path for s in again.samples] == [s.path for s in first.samples]
    # Only the fingerprint: the 1-byte size probe and the first and last 64 KiB.
    assert http_server.bytes_sent[video.relative] == 1 + 2 * (64 << 10)
    assert again.to_frame()["cached"].all()


def test_the_same_content_at_another_address_shares_samples(
    mp4_videos, http_server, video_root, sample_store, settings
):
    video = mp4_videos["start"]
    local = extract_frames(video.relative, [5, 60], sample_store, base_dir=video_root, settings=settings)
    remote = extract_frames(http_server.url(video.relative), [5, 60], sample_store, settings=settings)
    assert remote.stats.n_cached == 2
    assert [s.sample_key for s in remote.samples] == [s.sample_key for s in local.samples]


def test_encoding_settings_are_part_of_the_key(mp4_videos, video_root, sample_store, settings) -> None:
    video = mp4_videos["start"]
    jpg90 = extract_frames(video.relative, [7], sample_store, base_dir=video_root, settings=settings, quality=90)
    jpg50 = extract_frames(video.relative, [7], sample_store, base_dir=video_root, settings=settings, quality=50)
    png = extract_frames(video.relative, [7], sample_store, base_dir=video_root, settings=settings, fmt="png")
    keys = {jpg90.samples[0].sample_key, jpg50.samples[0].sample_key, png.samples[0].sample_key}
    assert len(keys) == 3
    assert png.samples[0].path.suffix == ".png" and jpg50.samples[0].bytes < jpg90.samples[0].bytes


def test_result_table_has_the_asset_columns(mp4_videos, video_root, sample_store, settings) -> None:
    video = mp4_videos["ntsc"]
    progress: list[tuple[int, int]] = []
    result = extract_frames(
        video.relative,
        [3, 3, 90, 1],
        sample_store,
        base_dir=video_root,
        settings=settings,
        progress=lambda *p: progress.append(p),
    )
    frame = result.to_frame()
    assert list(frame.columns) == ["frame", "sample_key", "path", "bytes", "cached"]
    assert frame["frame"].tolist() == [1, 3, 90]
    assert (frame["bytes"] == [Path(p).stat().st_size for p in frame["path"]]).all()
    assert progress[-1] == (3, 3) and [done for done, _ in progress] == sorted(done for done, _ in progress)


def test_frames_out_of_range_are_input_errors(mp4_videos, video_root, sample_store, settings) -> None:
    video = mp4_videos["start"]
    with pytest.raises(InputError, match="frame 121 is past the end"):
        extract_frames(video.relative, [1, 121], sample_store, base_dir=video_root, settings=settings)
    with pytest.raises(InputError, match="integers from 1"):
        extract_frames(video.relative, [0], sample_store, base_dir=video_root, settings=settings)


def test_several_videos_share_one_pool(mp4_videos, hls_videos, video_root, sample_store, settings) -> None:
    requests = [
        VideoRequest(mp4_videos["ntsc"].relative, [1, 75, 150]),
        VideoRequest(hls_videos["ts"].relative, [30, 31, 200]),
        VideoRequest(mp4_videos["vfr"].relative, [2, 199]),
    ]
    results = extract_videos(requests, sample_store, base_dir=video_root, settings=settings, max_workers=2)
    for request, result, video in zip(
        requests, results, [mp4_videos["ntsc"], hls_videos["ts"], mp4_videos["vfr"]], strict=True
    ):
        assert [s.frame for s in result.samples] == sorted(request.frames)
        assert_exact(result, video)


# -- HLS ---------------------------------------------------------------------------------------------------------


def boundary_frames(video: CodedVideo) -> list[int]:
    """Two frames on each side of every segment boundary (frame numbers)."""
    starts = np.cumsum(segment_frame_counts(video.path))[:-1] + 1  # first frame of each later segment
    frames = {f for start in starts for f in (start - 2, start - 1, start, start + 1)}
    return sorted(f for f in frames if 1 <= f <= video.n_frames)


@pytest.mark.parametrize("name", ["ts", "ts2gop", "fmp4"])
def test_hls_frames_on_both_sides_of_every_boundary_are_exact(name, hls_videos, http_server, sample_store, settings):
    video = hls_videos[name]
    frames = [1, *boundary_frames(video), video.n_frames]
    assert len(frames) > 16
    result = extract_frames(http_server.url(video.relative), frames, sample_store, fmt="png", settings=settings)
    assert_exact(result, video)


def test_hls_fetches_only_the_segments_that_hold_the_frames(hls_videos, http_server, sample_store, settings) -> None:
    video = hls_videos["ts"]  # 30 frames per segment
    result = extract_frames(http_server.url(video.relative), [95, 185], sample_store, settings=settings)
    assert_exact(result, video)
    folder = Path(video.relative).parent.as_posix()
    fetched = {r.path.rsplit("/", 1)[1] for r in http_server.requests if r.path.endswith(".ts")}
    # seg000 for the fingerprint and the anchor, seg003 (frames 91-120) and seg006 (181-210) for the frames.
    assert fetched == {"seg000.ts", "seg003.ts", "seg006.ts"}
    assert all(r.path.startswith(folder) for r in http_server.requests)


def test_hls_index_is_cached_between_extractions(hls_videos, video_root, sample_store, settings) -> None:
    video = hls_videos["ts2gop"]
    extract_frames(video.relative, [40, 41], sample_store, base_dir=video_root, settings=settings)
    index_files = list(sample_store.tables.glob("*.hls.json"))
    assert len(index_files) == 1
    again = extract_frames(video.relative, [42], SampleStore(sample_store.root), base_dir=video_root, settings=settings)
    assert_exact(again, video)


def test_variable_frame_rate_hls_falls_back_to_counting(hls_videos, video_root, sample_store, settings) -> None:
    video = hls_videos["vfr"]
    frames = [1, *boundary_frames(video), video.n_frames]
    result = extract_frames(video.relative, frames, sample_store, base_dir=video_root, fmt="png", settings=settings)
    assert_exact(result, video)
    assert '"counted": true' in next(sample_store.tables.glob("*.hls.json")).read_text()


def test_frames_past_the_end_of_an_hls_stream(hls_videos, video_root, sample_store, settings) -> None:
    video = hls_videos["fmp4"]
    with pytest.raises(InputError, match=f"frame {video.n_frames + 1} is past the end"):
        extract_frames(video.relative, [video.n_frames + 1], sample_store, base_dir=video_root, settings=settings)
