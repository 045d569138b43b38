"""Decode tasks for an mp4: its frame table, then GOP runs (exact) or one seek per frame (pyav-seek)."""

from __future__ import annotations

from fractions import Fraction

import av

from cvops.errors import InputError
from cvops.video.errors import FrameExtractionError
from cvops.video.ffmpeg_reader import ffmpeg_tasks
from cvops.video.frame_table import FrameTable
from cvops.video.options import Method
from cvops.video.planner import DecodeRun, partition_in_order, plan_mp4
from cvops.video.pyav_reader import Mp4Decoder, PyavSeekReader, open_mp4
from cvops.video.sink import SampleSink
from cvops.video.source import VideoSource
from cvops.video.tasks import Task, TaskOptions


def mp4_tasks(source: VideoSource, missing: list[int], options: TaskOptions, sink: SampleSink) -> list[Task]:
    """Tasks that extract ``missing`` (sorted) of the mp4 ``source`` into ``sink``."""
    table = frame_table(source, options)
    beyond = [frame for frame in missing if frame > table.n_frames]
    if beyond:
        raise InputError(
            f"frame {beyond[0]} is past the end of the video ({table.n_frames} frames)",
            file=source.name,
            field="frame",
        )
    if options.method is Method.EXACT:
        plans = plan_mp4(
            table, missing, max_tasks=options.max_tasks, seek_cost_frames=options.settings.seek_cost_frames
        )
        return [lambda runs=runs: _exact_task(source, table, runs, options, sink) for runs in plans]
    if options.method is Method.PYAV_SEEK:
        chunks = partition_in_order(missing, [1] * len(missing), options.max_tasks)
        return [lambda chunk=chunk: _pyav_seek_task(source, table, chunk, options, sink) for chunk in chunks]
    info = table.info
    if not info.average_rate:
        raise FrameExtractionError(f"{source.name}: no frame rate, so time-based seeking cannot be used")
    return ffmpeg_tasks(source, missing, 1 / Fraction(info.average_rate), options, sink)


def frame_table(source: VideoSource, options: TaskOptions) -> FrameTable:
    """The mp4's frame table: from the cache of tables, else read from its index and cached."""
    path = source.frame_table_path(options.tables)
    if path.is_file():
        try:
            return FrameTable.load(path)
        except (OSError, ValueError, KeyError):
            pass  # damaged: rebuild and overwrite
    try:
        container, stream = open_mp4(source.open_file(), decoder_threads=1)
    except av.FFmpegError as exc:
        raise InputError(f"is not a readable MP4 ({exc.strerror})", file=source.name, field="video") from exc
    try:
        table = FrameTable.from_stream(stream)
    except ValueError as exc:
        raise InputError(str(exc), file=source.name, field="video") from exc
    finally:
        container.close()
    table.save(path)
    return table


def _exact_task(
    source: VideoSource, table: FrameTable, runs: list[DecodeRun], options: TaskOptions, sink: SampleSink
) -> None:
    frames = [frame for run in runs for frame in run.frames]
    with sink.failures_named(source.name, frames):
        settings = options.settings
        with Mp4Decoder(
            source.open_file,
            table,
            name=source.name,
            decoder_threads=settings.decoder_threads,
            skip_unreferenced=settings.skip_unreferenced,
        ) as decoder:
            decoder.decode(runs, sink.emit)


def _pyav_seek_task(
    source: VideoSource, table: FrameTable, frames: list[int], options: TaskOptions, sink: SampleSink
) -> None:
    with sink.failures_named(source.name, frames):
        reader = PyavSeekReader(source.open_file, table, decoder_threads=options.settings.decoder_threads)
        try:
            reader.read(frames, sink.emit)
        finally:
            reader.close()
