"""Feeding ffmpeg a video through cvops's own transport, so that ffmpeg never fetches anything by itself.

Handed a URL, ffmpeg fetches the playlist again, follows its segment URIs and redirects with its own HTTP client
and its own parser: a server that answers ffmpeg (user agent ``Lavf``) differently from cvops could send it to
another origin, around every check of :mod:`cvops.url_policy`. So the ffmpeg methods never see the video's
address. A :class:`FfmpegFeed` serves the opened video on 127.0.0.1 (a free port and a random path) for as long
as its extraction runs, and ffmpeg reads only that, with ``-protocol_whitelist http,tcp``:

* an mp4 is served with ``Range`` support from the video's block reader (the bytes are counted in the
  extraction's statistics, and every limit of the transport applies);
* an HLS stream is served as a playlist written here from the parsed, checked :class:`MediaPlaylist` (durations
  and discontinuities kept, so ffmpeg seeks exactly as it would on the original), whose segments and init
  sections point back at this server and are read through the transport. S3-hosted HLS works too.

Python's ``http.server`` is enough: one client (ffmpeg), loopback only, a handful of requests per frame.
"""

from __future__ import annotations

import contextlib
import math
import re
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cvops.video.playlist import HlsResource, MediaPlaylist
from cvops.video.source import VideoSource
from cvops.video.uri import ContainerKind

_RANGE = re.compile(r"bytes=(\d+)-(\d*)")
_PIECE = 256 << 10


class FfmpegFeed:
    """One opened video served on loopback for ffmpeg; close it (or release the source) when done."""

    def __init__(self, source: VideoSource) -> None:
        self.source = source
        self.prefix = "/" + secrets.token_urlsafe(16)
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._playlist_text: bytes | None = None
        self._resources: dict[str, HlsResource] = {}
        if source.container is ContainerKind.HLS:
            self._playlist_text = self._write_playlist(source.hls.playlist)
        self._server = _Server(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="cvops-ffmpeg-feed", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        name = "index.m3u8" if self._playlist_text is not None else "video.mp4"
        return f"http://{host}:{port}{self.prefix}/{name}"

    def last_error(self) -> str | None:
        with self._lock:
            return self.errors[-1] if self.errors else None

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _write_playlist(self, playlist: MediaPlaylist) -> bytes:
        extension = "ts" if playlist.segment_format == "mpegts" else "m4s"
        target = max(1, math.ceil(max(segment.duration for segment in playlist.segments)))
        lines = ["#EXTM3U", "#EXT-X-VERSION:7", f"#EXT-X-TARGETDURATION:{target}", "#EXT-X-PLAYLIST-TYPE:VOD"]
        inits: dict[HlsResource, str] = {}
        current_init: HlsResource | None = None
        for k, segment in enumerate(playlist.segments):
            if segment.init is not None and segment.init != current_init:
                name = inits.setdefault(segment.init, f"i/{len(inits)}.mp4")
                self._resources[name] = segment.init
                lines.append(f'#EXT-X-MAP:URI="{name}"')
                current_init = segment.init
            if segment.discontinuity:
                lines.append("#EXT-X-DISCONTINUITY")
            name = f"s/{k}.{extension}"
            self._resources[name] = segment.resource
            lines += [f"#EXTINF:{segment.duration:.6f},", name]
        lines.append("#EXT-X-ENDLIST")
        return ("\n".join(lines) + "\n").encode()

    def _record(self, error: BaseException) -> None:
        with self._lock:
            self.errors.append(str(error))


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # ffmpeg hangs up after every seek; failures that matter are recorded by the handler


def _handler(feed: FfmpegFeed) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            return

        def do_GET(self) -> None:
            self._answered = False
            if not self.path.startswith(feed.prefix + "/"):
                self._status(404)
                return
            name = self.path[len(feed.prefix) + 1 :].split("?", 1)[0]
            try:
                if feed._playlist_text is not None:
                    self._serve_hls(name)
                else:
                    self._serve_mp4(name)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
            except Exception as exc:  # a read failure of the source: tell ffmpeg, keep the cause for the error
                feed._record(exc)
                if self._answered:
                    self.close_connection = True  # mid-body: ffmpeg sees a short read
                else:
                    with contextlib.suppress(OSError):
                        self._status(502)

        def send_response(self, code: int, message: str | None = None) -> None:
            self._answered = True
            super().send_response(code, message)

        def _serve_hls(self, name: str) -> None:
            if name == "index.m3u8":
                self._send(200, feed._playlist_text, "application/vnd.apple.mpegurl")
                return
            resource = feed._resources.get(name)
            if resource is None:
                self._status(404)
                return
            self._send(200, feed.source.hls.resource_bytes(resource), "application/octet-stream")

        def _serve_mp4(self, name: str) -> None:
            if name != "video.mp4":
                self._status(404)
                return
            blocks = feed.source.blocks
            size = blocks.size
            start, stop, status = 0, size, 200
            match = _RANGE.fullmatch((self.headers.get("Range") or "").strip())
            if match:
                start = int(match.group(1))
                stop = min(size, int(match.group(2)) + 1) if match.group(2) else size
                status = 206
                if start >= size or stop <= start:
                    self._status(416, {"Content-Range": f"bytes */{size}"})
                    return
            self.send_response(status)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(stop - start))
            self.send_header("Accept-Ranges", "bytes")
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{size}")
            self.end_headers()
            position = start
            while position < stop:
                piece = blocks.pread(position, min(_PIECE, stop - position))
                if not piece:
                    break
                self.wfile.write(piece)
                position += len(piece)

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _status(self, status: int, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler
