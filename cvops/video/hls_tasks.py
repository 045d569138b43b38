"""Decode tasks for HLS: frames grouped by the segment that probably holds them, located and decoded exactly."""

from __future__ import annotations

import contextlib

from cvops.video.errors import FrameExtractionError
from cvops.video.ffmpeg_reader import ffmpeg_tasks
from cvops.video.hls import HlsIndex
from cvops.video.options import Method
from cvops.video.planner import partition_in_order
from cvops.video.sink import SampleSink, list_frames
from cvops.video.source import VideoSource
from cvops.video.tasks import Task, TaskOptions


def hls_tasks(source: VideoSource, missing: list[int], options: TaskOptions, sink: SampleSink) -> list[Task]:
    """Tasks that extract ``missing`` (sorted) of the HLS ``source`` into ``sink``."""
    hls = source.hls
    index_path = source.hls_index_path(options.tables)
    if index_path.is_file():
        # A damaged cache entry is ignored: the index starts afresh and is rewritten at the end.
        with contextlib.suppress(ValueError, KeyError, TypeError):
            hls.use_index(HlsIndex.from_json(index_path.read_text()))
    if options.method is Method.PYAV_SEEK:
        raise FrameExtractionError(f"{source.name}: the pyav-seek method reads mp4 only")
    if options.method is not Method.EXACT:
        anchor = hls.anchor
        return ffmpeg_tasks(source, missing, anchor.frame_ticks * anchor.time_base, options, sink)
    by_segment: dict[int, list[int]] = {}
    for frame in missing:
        by_segment.setdefault(hls.estimate_segment(frame), []).append(frame)
    groups = [by_segment[k] for k in sorted(by_segment)]
    chunks = partition_in_order(groups, [1] * len(groups), options.max_tasks)
    return [lambda chunk=chunk: _exact_task(source, [f for group in chunk for f in group], sink) for chunk in chunks]


def _exact_task(source: VideoSource, frames: list[int], sink: SampleSink) -> None:
    hls = source.hls
    with sink.failures_named(source.name, frames):
        wanted: dict[int, dict[int, int]] = {}
        for frame in frames:
            segment, pts = hls.locate(frame)
            wanted.setdefault(segment, {})[pts] = frame
        for segment in sorted(wanted):
            missing = hls.decode(segment, wanted[segment], sink.emit)
            if missing:
                raise FrameExtractionError(
                    f"{source.name}: frame(s) {list_frames(missing)} were not produced by decoding segment {segment}"
                )
