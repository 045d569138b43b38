"""The seed's time-based ffmpeg strategies, kept selectable so the benchmark can compare them with exact reading.

* ``ffmpeg-seek``: input seek, ``ffmpeg -ss T -i URL -frames:v 1`` (seek to the keyframe before ``T``, decode
  and drop frames until ``T``).
* ``ffmpeg-coarse``: the seed's fix for HLS, a coarse input seek to a few seconds before ``T`` and then an
  accurate output seek for the rest (``-ss T-m -i URL -ss m``).

``T`` is ``(n - 1) / fps`` in seconds: ffmpeg's ``-ss`` is relative to the stream's start time. Both are only as
exact as ``index / fps`` and the demuxer's seeking: fine for a constant-rate mp4, wrong for variable frame rate and
(per our measurements) near HLS segment boundaries. ffmpeg-python builds the argument list; ffmpeg runs without a
shell, with the input format named (never probed), and reads only the video's :class:`FfmpegFeed` on loopback
(``-protocol_whitelist http,tcp``): it never sees the video's address, so it cannot fetch anything cvops's origin
policy has not approved, whatever a server answers it.
"""

from __future__ import annotations

import io
import subprocess
from enum import StrEnum
from fractions import Fraction

import ffmpeg
from PIL import Image

from cvops.ffmpeg import ffmpeg_binary
from cvops.redaction import redact_text
from cvops.video.errors import FrameExtractionError
from cvops.video.ffmpeg_feed import FfmpegFeed
from cvops.video.options import Method
from cvops.video.planner import partition_in_order
from cvops.video.sink import SampleSink
from cvops.video.source import VideoSource
from cvops.video.tasks import Task, TaskOptions
from cvops.video.uri import ContainerKind

COARSE_MARGIN_S = Fraction(3)
FEED_PROTOCOLS = "http,tcp"


class FfmpegSeek(StrEnum):
    INPUT = "input"
    COARSE_THEN_ACCURATE = "coarse-then-accurate"


def ffmpeg_tasks(
    source: VideoSource, missing: list[int], frame_duration_s: Fraction, options: TaskOptions, sink: SampleSink
) -> list[Task]:
    """Tasks that extract ``missing`` (sorted) of ``source`` with the ffmpeg method of ``options``, one ffmpeg
    process per frame at the seed's timestamp ``(n - 1) * frame_duration_s``."""
    feed = FfmpegFeed(source)
    source.closers.append(feed.close)
    chunks = partition_in_order(missing, [1] * len(missing), options.max_tasks)
    return [lambda chunk=chunk: _ffmpeg_task(feed, chunk, frame_duration_s, options, sink) for chunk in chunks]


def _ffmpeg_task(
    feed: FfmpegFeed, frames: list[int], frame_duration_s: Fraction, options: TaskOptions, sink: SampleSink
) -> None:
    seek = FfmpegSeek.INPUT if options.method is Method.FFMPEG_SEEK else FfmpegSeek.COARSE_THEN_ACCURATE
    source = feed.source
    settings = options.settings
    timeout = settings.request_timeout_s + settings.timeout_s * (settings.retries + 1)
    for frame in frames:
        command = ffmpeg_command(
            feed.url,
            frame_seconds(frame, frame_duration_s),
            container=source.container,
            seek=seek,
            timeout_s=timeout,
        )
        sink.emit(frame, ffmpeg_frame(command, timeout_s=timeout, name=source.name, frame=frame, feed=feed))


def frame_seconds(frame: int, frame_duration_s: Fraction) -> Fraction:
    """The seed's timestamp for a 1-based frame number, relative to the start time."""
    return (frame - 1) * frame_duration_s


def ffmpeg_command(
    url: str,
    seconds: Fraction,
    *,
    container: ContainerKind,
    seek: FfmpegSeek,
    timeout_s: float,
) -> list[str]:
    """The ffmpeg argument list that writes frame ``seconds`` of ``url`` (an :class:`FfmpegFeed`'s) as one PNG to
    stdout. Only plain HTTP is whitelisted: the feed is the one thing ffmpeg may read."""
    input_args: dict[str, object] = {
        "f": "hls" if container is ContainerKind.HLS else "mp4",
        "protocol_whitelist": FEED_PROTOCOLS,
        "rw_timeout": int(timeout_s * 1_000_000),
        "noautorotate": None,  # PyAV does not rotate either; labels refer to the stored picture
    }
    output_args: dict[str, object] = {"vframes": 1, "format": "image2pipe", "vcodec": "png"}
    if seek is FfmpegSeek.INPUT:
        input_args["ss"] = _timestamp(seconds)
    else:
        coarse = max(Fraction(0), seconds - COARSE_MARGIN_S)
        input_args["ss"] = _timestamp(coarse)
        output_args["ss"] = _timestamp(seconds - coarse)
    stream = ffmpeg.input(url, **input_args).output("pipe:", **output_args)
    return stream.compile(cmd=[ffmpeg_binary(), "-nostdin", "-hide_banner", "-loglevel", "error"])


def ffmpeg_frame(
    command: list[str], *, timeout_s: float, name: str, frame: int, feed: FfmpegFeed | None = None
) -> Image.Image:
    """Run one ffmpeg command from :func:`ffmpeg_command` and decode its PNG. A failure names the video, the
    frame and the cause: the feed's own read error when there was one, else ffmpeg's last line."""
    try:
        result = subprocess.run(command, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise FrameExtractionError(f"{name}, frame {frame}: ffmpeg timed out after {timeout_s:.0f} s") from exc
    if result.returncode != 0 or not result.stdout:
        cause = feed.last_error() if feed is not None else None
        if cause is None:
            lines = result.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no frame written"]
            cause = redact_text(lines[0])
        raise FrameExtractionError(f"{name}, frame {frame}: ffmpeg failed: {cause}")
    image = Image.open(io.BytesIO(result.stdout))
    image.load()
    return image.convert("RGB")


def _timestamp(seconds: Fraction) -> str:
    # Floor to the microsecond (ffmpeg's AV_TIME_BASE): rounding up could skip past the frame's timestamp.
    micros = seconds.numerator * 1_000_000 // seconds.denominator
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"
