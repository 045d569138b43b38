"""The strategies kept for comparison: they work where ``index / fps`` holds, and never share exact samples."""

from __future__ import annotations

import pytest

from cvops.video import FrameExtractionError, Method, extract_frames
from tests.video.conftest import image_code


@pytest.mark.parametrize("method", [Method.PYAV_SEEK, Method.FFMPEG_SEEK, Method.FFMPEG_COARSE])
def test_time_based_methods_on_a_constant_rate_mp4(method, mp4_videos, http_server, sample_store, settings) -> None:
    video = mp4_videos["ntsc"]
    frames = [1, 46, 150]
    result = extract_frames(
        http_server.url(video.relative), frames, sample_store, fmt="png", method=method, settings=settings
    )
    assert [image_code(s.path) for s in result.samples] == frames


def test_time_based_seeking_is_wrong_for_variable_frame_rate(mp4_videos, video_root, sample_store, settings) -> None:
    video = mp4_videos["vfr"]
    frames = list(range(20, 200, 20))
    exact = extract_frames(video.relative, frames, sample_store, base_dir=video_root, settings=settings, fmt="png")
    by_time = extract_frames(
        video.relative, frames, sample_store, base_dir=video_root, settings=settings, fmt="png", method=Method.PYAV_SEEK
    )
    assert [image_code(s.path) for s in exact.samples] == frames
    assert [image_code(s.path) for s in by_time.samples] != frames  # what the frame table is for


def test_other_methods_never_shadow_exact_samples(mp4_videos, video_root, sample_store, settings) -> None:
    video = mp4_videos["ntsc"]
    exact = extract_frames(video.relative, [10], sample_store, base_dir=video_root, settings=settings)
    other = extract_frames(
        video.relative, [10], sample_store, base_dir=video_root, settings=settings, method="ffmpeg-seek"
    )
    assert exact.samples[0].sample_key != other.samples[0].sample_key
    assert not other.samples[0].cached


def test_ffmpeg_strategies_read_hls(hls_videos, http_server, sample_store, settings) -> None:
    video = hls_videos["ts"]
    result = extract_frames(
        http_server.url(video.relative), [1, 100], sample_store, method="ffmpeg-coarse", settings=settings
    )
    assert len(result.samples) == 2  # runs end to end; exactness near boundaries is what the benchmark measures


def test_pyav_seek_is_mp4_only(hls_videos, video_root, sample_store, settings) -> None:
    with pytest.raises(FrameExtractionError, match="mp4 only"):
        extract_frames(
            hls_videos["ts"].relative, [5], sample_store, base_dir=video_root, settings=settings, method="pyav-seek"
        )
