"""What the planners of decode tasks share: the task type and the options every planner needs.

Which planner cuts a video's missing frames into tasks depends on the container and the method:
:mod:`cvops.video.mp4_tasks` (exact and pyav-seek), :mod:`cvops.video.hls_tasks` (exact) and
:mod:`cvops.video.ffmpeg_reader` (the ffmpeg methods, for both containers). Every task hands its pictures to the
video's :class:`~cvops.video.sink.SampleSink`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cvops.video.options import Method, ReaderSettings

Task = Callable[[], None]


@dataclass(frozen=True)
class TaskOptions:
    """The method, the settings, how many tasks to aim for, and the folder of cached frame tables and HLS
    indexes."""

    method: Method
    settings: ReaderSettings
    max_tasks: int
    tables: Path
