"""Every fetch goes to the origin the policy approved: parser differentials, redirects, ffmpeg, S3 buckets.

The Hypothesis test generates hostile authority strings and records, at the socket layer, where each fetch
tries to connect: it must be refused, or connect to exactly the approved host and port.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import urllib.parse

import pytest
import urllib3
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from cvops.errors import InputError
from cvops.video import Method, ReaderSettings, SourceReadError, extract_frames
from cvops.video.http import HttpTransport
from cvops.video.s3 import guard_endpoint
from cvops.video.uri import resolve_child, resolve_video
from tests.security.hostile import SocketRecorder, body, by_agent, redirect, serve_file

DIFFERENTIAL = r"http://169.254.169.254\@127.0.0.1:{port}/s.ts"
PLAYLIST = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\n{segment}\n#EXT-X-ENDLIST\n"


def _playlist_route(text: str):
    return lambda handler: body(handler, 200, text.encode())


def test_the_issue_reproduction_is_refused() -> None:
    """The issue's one-liner: urllib3 would have connected to 169.254.169.254."""
    parent = resolve_video("http://127.0.0.1:8000/a.m3u8")
    with pytest.raises(InputError, match="backslash"):
        resolve_child(parent, DIFFERENTIAL.format(port=8000), what="segment")


@pytest.mark.parametrize(
    "segment",
    [
        DIFFERENTIAL,
        "http://169.254.169.254\t@127.0.0.1:{port}/s.ts",
        "http://127.0.0.1:{port}@169.254.169.254/s.ts",
        "http://127.1:{port}/s.ts",
        "http://2130706433:{port}/s.ts",
        "http://[::ffff:127.0.0.1]:{port}/s.ts",
        "//169.254.169.254/s.ts",
        "http://127.0.0.1:{port}#@169.254.169.254/s.ts",
    ],
)
def test_segment_uris_that_parsers_read_apart_are_refused(segment, hostile, settings, store, monkeypatch) -> None:
    recorder = SocketRecorder({"127.0.0.1"})
    monkeypatch.setattr(socket, "getaddrinfo", recorder.getaddrinfo)
    hostile.routes["evil.m3u8"] = _playlist_route(PLAYLIST.format(segment=segment.format(port=hostile.port)))
    with pytest.raises((InputError, SourceReadError)):
        extract_frames(hostile.url("evil.m3u8"), [1], store, settings=settings)
    assert {host for host, _ in recorder.attempts} <= {"127.0.0.1"}
    assert all(port == hostile.port for _, port in recorder.attempts)


def test_a_same_origin_redirect_is_followed(hostile, settings, store) -> None:
    """Every redirect used to fail (its body was not drained before the connection went back to the pool)."""
    hostile.routes["moved.mp4"] = redirect("/v.mp4", body_size=200)
    result = extract_frames(hostile.url("moved.mp4"), [1, 30], store, settings=settings)
    assert [sample.frame for sample in result.samples] == [1, 30]


def test_a_redirect_loop_says_too_many_redirects(hostile, settings, store) -> None:
    hostile.routes["a.mp4"] = redirect("/b.mp4", body_size=10)
    hostile.routes["b.mp4"] = redirect("/a.mp4", body_size=10)
    with pytest.raises(SourceReadError, match="too many redirects"):
        extract_frames(hostile.url("a.mp4"), [1], store, settings=settings)


@pytest.mark.parametrize("location", ["{other}/v.mp4", DIFFERENTIAL, "http://127.0.0.1:{port}\\@{other_host}/v.mp4"])
def test_a_redirect_off_the_origin_is_refused_naming_both(location, hostile, other, settings, store) -> None:
    other_host = other.base_url.removeprefix("http://")
    hostile.routes["v2.mp4"] = redirect(location.format(other=other.base_url, port=hostile.port, other_host=other_host))
    with pytest.raises(SourceReadError, match="redirects to") as error:
        extract_frames(hostile.url("v2.mp4"), [1], store, settings=settings)
    assert "v2.mp4" in str(error.value)
    assert other.seen == []


@pytest.mark.parametrize("method", [Method.FFMPEG_SEEK, Method.FFMPEG_COARSE])
def test_ffmpeg_never_fetches_on_its_own(method, hostile, other, settings, store) -> None:
    """The server answers ffmpeg's user agent with a redirect or another playlist pointing at another origin;
    ffmpeg reads only cvops's loopback feed, so it never asks, and the frame comes from the real video."""
    playlist = hostile.root / "hls" / "index.m3u8"
    evil_playlist = PLAYLIST.format(segment=f"{other.base_url}/s.ts")
    hostile.routes["hls/index.m3u8"] = by_agent(_playlist_route(evil_playlist), lambda h: serve_file(h, playlist))
    hostile.routes["v.mp4"] = by_agent(
        redirect(f"{other.base_url}/v.mp4"), lambda h: serve_file(h, hostile.root / "v.mp4")
    )
    for url in (hostile.url("hls/index.m3u8"), hostile.url("v.mp4")):
        result = extract_frames(url, [1, 20], store, method=method, settings=settings)
        assert len(result.samples) == 2 and result.stats.bytes_read_from_source > 0
    assert not any(agent.startswith("Lavf") for agent in hostile.agents())
    assert other.seen == []


def test_s3_buckets_cannot_smuggle_a_host() -> None:
    for video in ("s3://user:pw@bucket/v.mp4", "s3://169.254.169.254/v.mp4", "s3://bucket:80/v.mp4", "s3://a/v.mp4"):
        with pytest.raises(InputError, match="bucket"):
            resolve_video(video)


def test_s3_requests_are_checked_against_the_endpoint_before_they_are_sent() -> None:
    import boto3
    from botocore.awsrequest import AWSRequest

    client = boto3.client(
        "s3",
        endpoint_url="http://localhost:9",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="y",
    )
    guard_endpoint(client)
    for url in ("http://localhost:9/bucket/key", "http://bucket.localhost:9/key"):
        client.meta.events.emit("before-send.s3.GetObject", request=AWSRequest("GET", url).prepare())
    for url in ("http://169.254.169.254/bucket/key", "http://localhost:10/bucket/key", "https://localhost:9/b/k"):
        with pytest.raises(SourceReadError, match="refusing an S3 request"):
            client.meta.events.emit("before-send.s3.GetObject", request=AWSRequest("GET", url).prepare())


# -- Hypothesis: generated authorities ----------------------------------------------------------------------------

_HOSTS = st.sampled_from(
    [
        "127.0.0.1",
        "169.254.169.254",
        "localhost",
        "2130706433",
        "0x7f.0.0.1",
        "0177.0.0.1",
        "127.1",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[fe80::1%25eth0]",
        "evil.example",
        "127.0.0.1.",
        "127%2e0.0.1",
        "",
    ]
)
_NOISE = st.text(alphabet="@:\\\t %2e[]./#?", max_size=4)
_USERINFO = st.one_of(
    st.sampled_from(["", "", "user:pw@", "u%40x:p%3Aw@"]),
    st.text(alphabet="abc:@%\\\t", max_size=6).map(lambda text: text + "@"),
)


@st.composite
def authorities(draw: st.DrawFn, port: int) -> str:
    ports = st.sampled_from(["", f":{port}", ":80", ":0", ":99999", f":{port}0", ":+1", f": {port}", ":0x50"])
    parts = [draw(_USERINFO), draw(_HOSTS), draw(ports), draw(_NOISE)]
    if draw(st.booleans()):
        parts.insert(draw(st.integers(0, 3)), draw(_HOSTS) + draw(_NOISE))
    return "".join(parts)


def _fetch(url: str, settings: ReaderSettings) -> None:
    # Refused, or failed to connect: where it tried to connect is what is checked.
    with contextlib.suppress(SourceReadError, InputError):
        HttpTransport(settings).read(url, 0, 1)


@pytest.fixture
def quick() -> ReaderSettings:
    return ReaderSettings(retries=0, timeout_s=1, request_timeout_s=2, max_redirects=2)


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_generated_segment_uris_connect_only_to_the_playlists_origin(data, hostile, quick, monkeypatch) -> None:
    authority = data.draw(authorities(hostile.port))
    parent = resolve_video(hostile.url("index.m3u8"))
    try:
        child = resolve_child(parent, f"http://{authority}/v.mp4", what="segment")
    except InputError:
        return  # refused before anything was fetched
    recorder = SocketRecorder({"127.0.0.1"})
    monkeypatch.setattr(socket, "getaddrinfo", recorder.getaddrinfo)
    _fetch(child.uri, quick)
    assert set(recorder.attempts) <= {("127.0.0.1", hostile.port)}, (authority, recorder.attempts)


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_generated_redirects_connect_only_to_the_approved_origin(data, hostile, quick, monkeypatch) -> None:
    authority = data.draw(authorities(hostile.port))
    hostile.routes["jump.mp4"] = redirect(f"http://{authority}/v.mp4")
    recorder = SocketRecorder({"127.0.0.1"})
    monkeypatch.setattr(socket, "getaddrinfo", recorder.getaddrinfo)
    _fetch(hostile.url("jump.mp4"), quick)
    assert set(recorder.attempts) <= {("127.0.0.1", hostile.port)}, (authority, recorder.attempts)


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_generated_video_urls_connect_where_every_parser_says(data, hostile, quick, monkeypatch) -> None:
    """A video URL from matches.csv is fetched only if the standard library and urllib3 read the same host and
    port from it, and then only that host and port are connected to."""
    url = f"http://{data.draw(authorities(hostile.port))}/v.mp4"
    try:
        resolve_video(url)
    except InputError:
        return
    theirs = urllib.parse.urlsplit(url)
    ours = urllib3.util.parse_url(url)
    expected = {(_address(theirs.hostname), theirs.port or 80), (_address(ours.host), ours.port or 80)}
    assert len(expected) == 1, url  # accepted only when both parsers agree
    recorder = SocketRecorder({"127.0.0.1"})
    monkeypatch.setattr(socket, "getaddrinfo", recorder.getaddrinfo)
    _fetch(url, quick)
    assert {(_address(host), port) for host, port in recorder.attempts} <= expected, url


def _address(host: str | None) -> str:
    """A host as one address: lower case, IPv6 literals in one spelling."""
    host = (host or "").strip("[]").lower()
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host).compressed
    return host
