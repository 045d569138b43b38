"""Only allowed schemes are read, and an HLS playlist cannot point the reader anywhere but its own origin."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest

from cvops.errors import InputError
from cvops.redaction import redact_url as redact
from cvops.video import SourceReadError, extract_frames
from cvops.video.ffmpeg_reader import FfmpegSeek, ffmpeg_command
from cvops.video.loopback import LoopbackServer
from cvops.video.uri import ContainerKind, SourceKind, VideoLocation, resolve_child, resolve_video

HEADER = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n"


@pytest.fixture
def evil_root(tmp_path: Path, hls_videos) -> Path:
    """A folder with a copy of a valid HLS stream, where tests add malicious playlists."""
    root = tmp_path / "evil"
    shutil.copytree(hls_videos["ts"].path.parent, root)
    return root


@pytest.fixture
def servers(evil_root: Path, tmp_path: Path) -> Iterator[tuple[LoopbackServer, LoopbackServer]]:
    """The playlist's server and a second one (another origin) that must never be contacted."""
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "seg.ts").write_bytes(b"\x47" * 188)
    with LoopbackServer(evil_root) as main, LoopbackServer(tmp_path / "other") as other:
        yield main, other


def playlist(root: Path, name: str, body: str, *, ended: bool = True) -> str:
    (root / name).write_text(HEADER + body + ("#EXT-X-ENDLIST\n" if ended else ""))
    return name


@pytest.mark.parametrize(
    ("body", "what"),
    [
        ("#EXTINF:1.0,\nfile:///etc/passwd\n", "segment"),
        ("#EXTINF:1.0,\n{other}/seg.ts\n", "segment"),
        ("#EXTINF:1.0,\n{same_https}/seg000.ts\n", "segment"),
        ("#EXTINF:1.0,\nftp://127.0.0.1/seg.ts\n", "segment"),
        ('#EXT-X-KEY:METHOD=AES-128,URI="{other}/key"\n#EXTINF:1.0,\nseg000.ts\n', "key"),
        ('#EXT-X-KEY:METHOD=AES-128,URI="file:///etc/key"\n#EXTINF:1.0,\nseg000.ts\n', "key"),
        ('#EXT-X-MAP:URI="file:///etc/passwd"\n#EXTINF:1.0,\nseg000.m4s\n', "init section"),
        ("#EXT-X-STREAM-INF:BANDWIDTH=1000\n{other}/index.m3u8\n", "variant"),
    ],
    ids=["file", "other-host", "other-protocol", "ftp", "key-other-host", "key-file", "map-file", "variant"],
)
def test_off_origin_uris_are_refused(body, what, servers, evil_root, sample_store, settings) -> None:
    main, other = servers
    same_https = main.base_url.replace("http://", "https://")
    name = playlist(evil_root, "evil.m3u8", body.format(other=other.base_url, same_https=same_https))
    with pytest.raises(InputError, match=f"refusing {what}") as error:
        extract_frames(main.url(name), [1], sample_store, settings=settings)
    assert "evil.m3u8" in str(error.value)
    assert other.requests == []


def test_a_redirect_to_another_origin_is_refused(servers, evil_root, sample_store, settings) -> None:
    main, other = servers
    main.redirects["seg000.ts"] = f"{other.base_url}/seg.ts"
    with pytest.raises(SourceReadError, match="another origin"):
        extract_frames(main.url("index.m3u8"), [1], sample_store, settings=settings)
    assert other.requests == []


def test_encrypted_and_live_playlists_are_refused(servers, evil_root, sample_store, settings) -> None:
    main, _ = servers
    encrypted = playlist(evil_root, "enc.m3u8", '#EXT-X-KEY:METHOD=AES-128,URI="key.bin"\n#EXTINF:1.0,\nseg000.ts\n')
    with pytest.raises(InputError, match="encrypted HLS"):
        extract_frames(main.url(encrypted), [1], sample_store, settings=settings)
    live = playlist(evil_root, "live.m3u8", "#EXTINF:1.0,\nseg000.ts\n", ended=False)
    with pytest.raises(InputError, match="live playlist"):
        extract_frames(main.url(live), [1], sample_store, settings=settings)


@pytest.mark.parametrize("segment", ["../outside.ts", "/etc/passwd", "file:///etc/passwd", "~/x.ts"])
def test_a_local_playlist_only_reads_files_beside_it(segment, evil_root, tmp_path, sample_store, settings) -> None:
    (tmp_path / "outside.ts").write_bytes(b"secret")
    name = playlist(evil_root, "local.m3u8", f"#EXTINF:1.0,\n{segment}\n")
    with pytest.raises(InputError, match="refusing segment"):
        extract_frames(name, [1], sample_store, base_dir=evil_root, settings=settings)


def test_an_mp4_that_is_really_a_playlist_is_never_followed(servers, evil_root, sample_store, settings) -> None:
    """FFmpeg would probe this as HLS and fetch the "segment"; the format is always named, so it is not."""
    main, other = servers
    (evil_root / "video.mp4").write_text(HEADER + f"#EXTINF:1.0,\n{other.base_url}/seg.ts\n#EXT-X-ENDLIST\n")
    with pytest.raises(InputError, match="not a readable MP4"):
        extract_frames(main.url("video.mp4"), [1], sample_store, settings=settings)
    assert other.requests == []


@pytest.mark.parametrize(
    "video", ["file:///etc/passwd", "ftp://host/v.mp4", "data:video/mp4;base64,AAAA", "gopher://x/y", "http:///x"]
)
def test_only_http_s3_and_local_paths_are_addresses(video) -> None:
    with pytest.raises(InputError):
        resolve_video(video)


def test_local_paths_only_for_local_stores(tmp_path: Path) -> None:
    assert resolve_video("a/b.mp4", tmp_path).uri == str(tmp_path / "a" / "b.mp4")
    assert resolve_video("s3://bucket/v/index.m3u8").container is ContainerKind.HLS
    with pytest.raises(InputError, match="only allowed for a label store on disk"):
        resolve_video("a/b.mp4", tmp_path, allow_local=False)


def test_s3_children_stay_in_the_bucket() -> None:
    parent = resolve_video("s3://bucket/videos/m1/index.m3u8")
    assert resolve_child(parent, "seg1.ts", what="segment").uri == "s3://bucket/videos/m1/seg1.ts"
    assert resolve_child(parent, "../m2/seg1.ts", what="segment").uri == "s3://bucket/videos/m2/seg1.ts"
    for bad in ("s3://other/seg.ts", "https://bucket.s3.amazonaws.com/seg.ts", "../../../x.ts"):
        with pytest.raises(InputError, match="refusing segment"):
            resolve_child(parent, bad, what="segment")


def test_signatures_are_redacted_in_messages() -> None:
    url = "https://u:pw@bucket.s3.amazonaws.com/v.mp4?X-Amz-Signature=abc&X-Amz-Credential=key&part=1"
    shown = redact(url)
    assert "abc" not in shown and "key" not in shown and "pw" not in shown and "part=1" in shown


def test_ffmpeg_runs_with_an_argument_list_a_named_format_and_a_whitelist(servers, evil_root) -> None:
    main, _ = servers
    name = playlist(evil_root, "ffmpeg-evil.m3u8", "#EXTINF:1.0,\nfile:///etc/hostname.ts\n")
    command = ffmpeg_command(
        main.url(name), Fraction(0), container=ContainerKind.HLS, seek=FfmpegSeek.INPUT, timeout_s=5
    )
    assert isinstance(command, list)
    assert command[command.index("-protocol_whitelist") + 1] == "http,tcp"
    assert command[command.index("-f") + 1] == "hls"
    # Defence in depth: even given a malicious playlist (cvops only ever hands it its own), ffmpeg refuses file://.
    result = subprocess.run(command, capture_output=True, timeout=30, check=False)
    assert result.returncode != 0 and not result.stdout
    assert b"not on whitelist" in result.stderr or b"not in whitelist" in result.stderr, result.stderr


def test_resolve_child_of_http_keeps_the_origin() -> None:
    parent = VideoLocation(SourceKind.HTTP, "http://cdn.example:8080/a/index.m3u8", ContainerKind.HLS)
    assert resolve_child(parent, "seg.ts", what="segment").uri == "http://cdn.example:8080/a/seg.ts"
    assert resolve_child(parent, "/b/seg.ts", what="segment").uri == "http://cdn.example:8080/b/seg.ts"
    assert resolve_child(parent, "HTTP://CDN.example:8080/c.ts", what="segment").uri.endswith("/c.ts")
    with pytest.raises(InputError):
        resolve_child(parent, "http://cdn.example/seg.ts", what="segment")  # port 80, another origin
