"""HLS playlists: parsing, variant choice, byte ranges, discontinuities and timestamp wrap-around."""

from __future__ import annotations

import shutil
from fractions import Fraction

import pytest

from cvops.errors import InputError
from cvops.video import FrameExtractionError, extract_frames
from cvops.video.hls import unwrap
from cvops.video.playlist import MediaPlaylist, parse_playlist
from cvops.video.uri import ContainerKind, SourceKind, VideoLocation
from tests.video.conftest import image_code

PARENT = VideoLocation(SourceKind.HTTP, "https://cdn.example/m1/index.m3u8", ContainerKind.HLS)


def test_media_playlist_with_byte_ranges_and_init_section() -> None:
    text = (
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n"
        '#EXT-X-MAP:URI="init.mp4",BYTERANGE="700@0"\n'
        "#EXTINF:2.002,\n#EXT-X-BYTERANGE:1000@700\nmedia.mp4\n"
        "#EXTINF:1.5,\n#EXT-X-BYTERANGE:800\nmedia.mp4\n"
        "#EXT-X-ENDLIST\n"
    )
    playlist = parse_playlist(text, PARENT)
    assert isinstance(playlist, MediaPlaylist)
    assert playlist.segment_format == "mp4"
    first, second = playlist.segments
    assert first.resource.location.uri == "https://cdn.example/m1/media.mp4"
    assert first.resource.byte_range == (700, 1700) and second.resource.byte_range == (1700, 2500)
    assert first.init.byte_range == (0, 700) and first.init.location.uri.endswith("/m1/init.mp4")
    assert playlist.segment_starts.tolist() == [0.0, 2.002]


def test_master_playlist_lists_variants() -> None:
    text = (
        "#EXTM3U\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\nlow/index.m3u8\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=5000000,RESOLUTION=1920x1080,CODECS="avc1.640028,mp4a.40.2"\nhigh/index.m3u8\n'
    )
    variants = parse_playlist(text, PARENT)
    assert [(v.bandwidth, v.resolution) for v in variants] == [(800000, (640, 360)), (5000000, (1920, 1080))]
    assert variants[1].location.uri == "https://cdn.example/m1/high/index.m3u8"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not a playlist", "no #EXTM3U"),
        ("#EXTM3U\n#EXT-X-ENDLIST\n", "no segments"),
        ("#EXTM3U\nseg.ts\n#EXT-X-ENDLIST\n", "no #EXTINF"),
        ("#EXTM3U\n#EXTINF:abc,\nseg.ts\n#EXT-X-ENDLIST\n", "not a number"),
        ("#EXTM3U\n#EXTINF:1,\naudio.aac\n#EXT-X-ENDLIST\n", "audio or subtitles"),
    ],
)
def test_bad_playlists_are_named_errors(text, message) -> None:
    with pytest.raises(InputError, match=message) as error:
        parse_playlist(text, PARENT)
    assert "cdn.example/m1/index.m3u8" in str(error.value)


def test_master_playlist_is_followed_to_its_best_variant(
    hls_videos, video_root, tmp_path, sample_store, settings
) -> None:
    stream = hls_videos["ts"]
    store = tmp_path / "store"
    shutil.copytree(stream.path.parent, store / "high")
    (store / "master.m3u8").write_text(
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=100\nmissing/index.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=9000000\nhigh/index.m3u8\n"
    )
    result = extract_frames("master.m3u8", [31, 200], sample_store, base_dir=store, settings=settings)
    assert [image_code(s.path) for s in result.samples] == [31, 200]


def test_discontinuities_number_frames_by_counting(hls_videos, tmp_path, sample_store, settings) -> None:
    """Two streams joined with EXT-X-DISCONTINUITY: timestamps restart, frame numbers must not."""
    first, second = hls_videos["ts"].path.parent, hls_videos["ts2gop"].path.parent
    store = tmp_path / "joined"
    store.mkdir()
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:1"]
    counts = []
    for prefix, folder in (("a", first), ("b", second)):
        if prefix == "b":
            lines.append("#EXT-X-DISCONTINUITY")
        segments = sorted(folder.glob("seg*.ts"))
        counts.append(len(segments))
        for segment in segments:
            shutil.copy(segment, store / f"{prefix}-{segment.name}")
            lines += ["#EXTINF:1.001,", f"{prefix}-{segment.name}"]
    (store / "joined.m3u8").write_text("\n".join([*lines, "#EXT-X-ENDLIST", ""]))
    n_first = len(hls_videos["ts"].truth)
    frames = [1, n_first, n_first + 1, n_first + 2, n_first + 100]
    result = extract_frames("joined.m3u8", frames, sample_store, base_dir=store, fmt="png", settings=settings)
    truth = hls_videos["ts"].truth + hls_videos["ts2gop"].truth
    assert [image_code(s.path) for s in result.samples] == [truth[f - 1] for f in frames]
    assert '"counted": true' in next(sample_store.tables.glob("*.hls.json")).read_text()


def test_mpeg_ts_timestamps_unwrap_across_the_33_bit_boundary() -> None:
    period = 1 << 33
    first = period - 90000  # one second before the wrap
    assert unwrap(1000, first, 33) == period + 1000
    assert unwrap(first + 5, first, 33) == first + 5
    assert unwrap(first - 5, first, 33) == first - 5
    assert unwrap(12345, 0, None) == 12345


def test_anchor_and_grid_come_from_the_first_segment(hls_videos, video_root, sample_store, settings) -> None:
    video = hls_videos["ts"]
    extract_frames(video.relative, [100], sample_store, base_dir=video_root, settings=settings)
    text = next(sample_store.tables.glob("*.hls.json")).read_text()
    assert '"frame_ticks": "3003"' in text and '"time_base": "1/90000"' in text and '"counted": false' in text
    assert Fraction(3003) * Fraction(1, 90000) == 1 / Fraction(30000, 1001)


def test_a_missing_segment_is_an_error_naming_frame_and_segment(hls_videos, tmp_path, sample_store, settings) -> None:
    store = tmp_path / "broken"
    shutil.copytree(hls_videos["ts"].path.parent, store)
    (store / "seg004.ts").unlink()
    with pytest.raises(FrameExtractionError, match=r"index.m3u8: frame\(s\) 125: cannot read .*seg004.ts"):
        extract_frames("index.m3u8", [125], sample_store, base_dir=store, settings=settings)
