"""Every malformed value is an InputError naming the file (or redacted URL), the line or row and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from cvops.errors import InputError
from cvops.labels import KEYFRAME_COLUMNS, LabelStore
from cvops.video import extract_frames
from cvops.video.playlist import HlsError, parse_playlist
from cvops.video.uri import resolve_video
from tests.factories import match_row, player_keyframes, write_store
from tests.security.hostile import body

MASTER = "#EXTM3U\n\n#EXT-X-STREAM-INF:{attributes}\nlow/index.m3u8\n"
MEDIA = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n{tag}\n#EXTINF:1.0,\nseg0.ts\n#EXT-X-ENDLIST\n"


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        (MASTER.format(attributes="BANDWIDTH=abc"), 3, "BANDWIDTH"),
        (MASTER.format(attributes="BANDWIDTH=1,RESOLUTION=big"), 3, "RESOLUTION"),
        (MASTER.format(attributes="BANDWIDTH=99999999999999999999999999"), 3, "BANDWIDTH"),
        (MEDIA.format(tag="#EXT-X-BYTERANGE:100@xyz"), 3, "EXT-X-BYTERANGE"),
        (MEDIA.format(tag="#EXT-X-BYTERANGE:-5"), 3, "EXT-X-BYTERANGE"),
        (MEDIA.format(tag='#EXT-X-MAP:URI="init.mp4",BYTERANGE="abc"'), 3, "EXT-X-MAP BYTERANGE"),
        (MEDIA.format(tag="#EXTINF:nan,"), 3, "EXTINF"),
        (MEDIA.format(tag="#EXTINF:-1,"), 3, "EXTINF"),
        (MEDIA.format(tag="#EXTINF:1e308,"), 3, "EXTINF"),
    ],
    ids=[
        "bandwidth",
        "resolution",
        "bandwidth-huge",
        "byterange",
        "byterange-negative",
        "map-byterange",
        "nan",
        "negative-duration",
        "huge-duration",
    ],
)
def test_malformed_playlist_values_name_the_playlist_line_and_field(text, line, field) -> None:
    location = resolve_video("http://user:PASS@cdn.example/v/index.m3u8?token=TOK")
    with pytest.raises(HlsError) as error:
        parse_playlist(text, location)
    message = str(error.value)
    assert error.value.field == field and f"line {line}:" in message, message
    assert "cdn.example/v/index.m3u8" in message and "PASS" not in message and "TOK" not in message


def test_a_malformed_playlist_over_http_fails_cleanly(hostile, settings, store) -> None:
    hostile.routes["bad.m3u8"] = lambda h: body(h, 200, MASTER.format(attributes="BANDWIDTH=abc").encode())
    with pytest.raises(InputError, match=r"bad.m3u8.*line 3: BANDWIDTH 'abc'"):
        extract_frames(hostile.url("bad.m3u8"), [1], store, settings=settings)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"width": "99999999999999999999"}, "width", "positive integer up to 65535"),
        ({"height": "1e9"}, "height", "positive integer up to 65535"),
        ({"n_frames": "99999999999"}, "n_frames", "positive integer up to 10000000"),
        ({"video": r"http://169.254.169.254\@cdn.example/v.mp4"}, "video", "backslash"),
        ({"video": "http://[cdn.example/v.mp4"}, "video", "cannot be parsed"),
        ({"video": "s3://user:pw@bucket/v.mp4"}, "video", "bucket"),
    ],
)
def test_bad_match_values_reject_only_their_row(tmp_path: Path, overrides, field, message) -> None:
    store = write_store(tmp_path / "s", [match_row("good"), match_row("bad", **overrides)], {})
    table = LabelStore(store).read_matches()
    assert list(table.matches) == ["good"]
    (error,) = table.errors
    assert (error.row, error.field) == (3, field) and message in str(error), str(error)


def test_row_numbers_count_blank_lines(tmp_path: Path) -> None:
    store = write_store(tmp_path / "s", [match_row("m1"), match_row("m2", fps="fast")], {})
    text = (store / "matches.csv").read_text().splitlines()
    (store / "matches.csv").write_text("\n".join([text[0], "", text[1], "", "", text[2]]) + "\n")
    table = LabelStore(store).read_matches()
    assert list(table.matches) == ["m1"] and table.errors[0].row == 6


def test_a_byte_that_is_not_utf8_rejects_only_its_row(tmp_path: Path) -> None:
    store = write_store(tmp_path / "s", [match_row("m1"), match_row("m2"), match_row("m3")], {})
    raw = (store / "matches.csv").read_bytes().replace(b"m2,", b"m2,", 1)
    lines = raw.split(b"\n")
    lines[2] = lines[2].replace(b"north", b"nor\xffth")
    (store / "matches.csv").write_bytes(b"\n".join(lines))
    table = LabelStore(store).read_matches()
    assert sorted(table.matches) == ["m1", "m3"]
    (error,) = table.errors
    assert (error.row, error.field) == (3, "pitch") and "UTF-8" in str(error)


@pytest.mark.parametrize(
    ("row_index", "values", "field", "message"),
    [
        (3, {"frame": "1e30"}, "frame", "frame 1e30 is past the end"),
        (3, {"frame": "-1e30"}, "frame", "frames are 1-based"),
        (3, {"track_id": "1e30"}, "track_id", "larger than"),
        (3, {"x": "1e999"}, "x", "finite number"),
        (3, {"role": "pl\udcffayer"}, "role", "UTF-8"),
    ],
)
def test_bad_keyframe_values_name_the_row_and_field(tmp_path: Path, row_index, values, field, message) -> None:
    keyframes = player_keyframes(2)
    keyframes[row_index].update(values)
    store = write_store(tmp_path / "s", [match_row("m1")], {})
    lines = [",".join(KEYFRAME_COLUMNS)] + [",".join(str(row[c]) for c in KEYFRAME_COLUMNS) for row in keyframes]
    (store / "m1").mkdir()
    (store / "m1" / "keyframes.csv").write_bytes("\n".join(lines).encode(errors="surrogateescape"))
    with pytest.raises(InputError) as error:
        LabelStore(store).read_keyframes("m1", n_frames=50)
    assert (error.value.row, error.value.field) == (row_index + 2, field) and message in str(error.value)
    assert "keyframes.csv" in str(error.value)


def test_duplicate_keyframes_name_the_file_and_rows(tmp_path: Path) -> None:
    keyframes = player_keyframes(2)
    keyframes.append(dict(keyframes[0], x=1.0))
    store = write_store(tmp_path / "s", [match_row("m1")], {"m1": keyframes})
    with pytest.raises(InputError, match=r"keyframes.csv, row 2, field 'frame'.*2 keyframes on frame 1 \(rows 2, 8\)"):
        LabelStore(store).read_keyframes("m1")
