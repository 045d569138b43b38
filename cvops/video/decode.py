"""Decoding a local video front to back with PyAV, for readers that want most of its frames in order.

Sequential decoding, not seeking: on short clips, and when most frames are wanted, decoding through costs about
as much as seeking to each wanted frame. Exact random access to remote videos is :mod:`cvops.video.extract`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av

from cvops.errors import InputError


def decoded_frames(video: str | Path) -> Iterator[tuple[int, av.VideoFrame]]:
    """``(frame number, frame)`` of every frame of ``video`` in presentation order, numbered from 1; a file PyAV
    cannot open is an :class:`InputError` naming it."""
    try:
        container = av.open(str(video))
    except (av.FFmpegError, OSError) as exc:
        raise InputError(f"cannot open video: {exc}", file=video) from exc
    with container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for index, frame in enumerate(container.decode(stream)):
            yield index + 1, frame
