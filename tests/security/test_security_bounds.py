"""Bounds before allocation: frame numbers, ``--frames`` ranges, playlist and body sizes, total time per request."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from cvops.errors import InputError
from cvops.labels import LabelStore, interpolate_keyframes
from cvops.video import ReaderSettings, SourceReadError, extract_frames
from cvops.video.http import HttpTransport
from cvops_cli.main import main
from tests.factories import match_row, player_keyframes, write_store
from tests.security.hostile import body, drip, endless


def _playlist(segments: int = 2) -> bytes:
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:1"]
    for k in range(segments):
        lines += ["#EXTINF:1.0,", f"hls/index{k}.ts"]
    return ("\n".join([*lines, "#EXT-X-ENDLIST"]) + "\n").encode()


def test_a_keyframe_far_past_the_match_is_refused_before_interpolation(tmp_path: Path) -> None:
    keyframes = player_keyframes(3)
    keyframes[4]["frame"] = 2_000_000_000
    store = LabelStore(write_store(tmp_path / "s", [match_row("m1")], {"m1": keyframes}))
    tracemalloc.start()
    with pytest.raises(InputError, match=r"row 6, field 'frame': frame 2000000000 is past the end \(the match has 50"):
        store.read_keyframes("m1", n_frames=50)
    with pytest.raises(InputError, match="past the end"):
        store.read_keyframes("m1")  # MAX_FRAMES bounds it even without the match's length
    frame = pd.DataFrame(keyframes).astype({"frame": "int64", "track_id": "int64"})
    with pytest.raises(InputError, match=r"outside 1\.\.50"):
        interpolate_keyframes(frame, n_frames=50)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50 << 20


def test_interpolation_refuses_to_make_more_rows_than_a_match_can_have() -> None:
    tracks = [(1, t, "player", 0.0, 0.0, 5.0, 5.0) for t in range(10)]
    tracks += [(9_000_000, t, "player", 0.0, 0.0, 5.0, 5.0) for t in range(10)]
    frame = pd.DataFrame(tracks, columns=["frame", "track_id", "role", "x", "y", "w", "h"])
    with pytest.raises(InputError, match="MAX_LABEL_ROWS"):
        interpolate_keyframes(frame)


@pytest.mark.parametrize("spec", ["1-300000000", "5,299999999", "1-999999999999999999"])
def test_frames_ranges_are_checked_against_the_video_before_they_are_listed(spec, media, cvops_home, tmp_path) -> None:
    tracemalloc.start()
    result = CliRunner().invoke(
        main, ["frames", str(media / "v.mp4"), "--frames", spec, "--out", str(tmp_path / "out"), "--quiet"]
    )
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert result.exit_code == 1, result.output
    assert "is past the end of the video (60 frames)" in result.output
    assert peak < 100 << 20
    hls = CliRunner().invoke(
        main, ["frames", str(media / "hls" / "index.m3u8"), "--frames", spec, "--out", str(tmp_path), "--quiet"]
    )
    assert hls.exit_code == 1 and "is past the end of the video (at most" in hls.output


def test_a_huge_playlist_is_refused_without_reading_it(hostile, store) -> None:
    hostile.routes["declared.m3u8"] = endless(hostile, declare=200 << 20)  # says 200 MB up front
    hostile.routes["streamed.m3u8"] = endless(hostile)  # says nothing, streams until cut off
    settings = ReaderSettings(retries=0, timeout_s=5, max_playlist_bytes=1 << 20)
    for name in ("declared.m3u8", "streamed.m3u8"):
        with pytest.raises(SourceReadError, match=r"larger than 1048576 bytes \(ReaderSettings.max_playlist_bytes\)"):
            extract_frames(hostile.url(name), [1], store, settings=settings)
    assert hostile.body_bytes_sent < 50 << 20


@pytest.mark.parametrize(
    ("route", "message"),
    [
        ("wrong-range", "asked for bytes 0-0"),
        ("long-body", "Content-Length"),
        ("endless-body", "more than the 1 bytes asked for"),
        ("gzip", "compressed"),
    ],
)
def test_a_body_larger_than_the_range_is_refused(route, message, hostile) -> None:
    size = 300 << 20
    hostile.routes["wrong-range"] = endless(
        hostile, status=206, declare=size, Content_Range=f"bytes 0-{size - 1}/{size}"
    )
    hostile.routes["long-body"] = endless(hostile, status=206, declare=size, Content_Range=f"bytes 0-0/{size}")
    hostile.routes["endless-body"] = endless(hostile, status=206, Content_Range=f"bytes 0-0/{size}")
    hostile.routes["gzip"] = lambda h: body(h, 206, b"x", Content_Range="bytes 0-0/9", Content_Encoding="gzip")
    with pytest.raises(SourceReadError, match=message):
        HttpTransport(ReaderSettings(retries=0, timeout_s=5)).read(hostile.url(route), 0, 1)
    assert hostile.body_bytes_sent < 50 << 20


@pytest.mark.timeout(60)
@pytest.mark.parametrize("headers_too", [False, True], ids=["body", "headers"])
def test_a_server_that_drips_is_cut_off_after_the_request_timeout(headers_too, hostile, store) -> None:
    """2 bytes every 0.2 s: each read waits far less than timeout_s, so only a whole-request limit stops it."""
    hostile.routes["slow.m3u8"] = drip(_playlist(400), every_s=0.2, headers_too=headers_too)
    settings = ReaderSettings(retries=2, backoff_s=0.01, timeout_s=5, request_timeout_s=1)
    with pytest.raises(SourceReadError, match=r"longer than 1 s \(ReaderSettings.request_timeout_s\)") as error:
        extract_frames(hostile.url("slow.m3u8"), [1], store, settings=settings)
    assert "slow.m3u8" in str(error.value)
    assert len([seen for seen in hostile.seen if seen.path == "slow.m3u8"]) == 1  # cut off, not retried


def test_a_byte_range_in_a_playlist_cannot_ask_for_more_than_a_segment(hostile, store) -> None:
    text = (
        "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXT-X-BYTERANGE:300000000@0\n#EXTINF:1.0,\nhls/index0.ts\n#EXT-X-ENDLIST\n"
    )
    hostile.routes["big-range.m3u8"] = lambda h: body(h, 200, text.encode())
    settings = ReaderSettings(retries=0, timeout_s=5)
    with pytest.raises(Exception, match=r"max_segment_bytes"):
        extract_frames(hostile.url("big-range.m3u8"), [1], store, settings=settings)
    assert hostile.body_bytes_sent == 0
