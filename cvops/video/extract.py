"""Extracting frames into the sample store: cache lookup, planning, a worker pool, encoding, statistics.

``extract_frames`` is what the ``frame_samples`` asset and the ``cvops frames`` command call; ``extract_videos``
does several videos in one worker pool. Per video: resolve and fingerprint it, answer what the sample store already
has, build (or load) its frame table, plan GOP runs or segment groups, and hand them to the pool. Workers decode,
encode (JPEG or PNG) and write each sample atomically as soon as it is out, so an interrupted extraction keeps
what it finished and a re-run fetches only the rest.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from cvops.errors import InputError
from cvops.redaction import redact_url
from cvops.video.frame_ranges import FrameRanges
from cvops.video.hls_tasks import hls_tasks
from cvops.video.mp4_tasks import frame_table, mp4_tasks
from cvops.video.options import Method, ReaderSettings
from cvops.video.sample_store import SampleEncoding, SampleStore
from cvops.video.sink import ExtractedSample, Progress, ProgressCounter, SampleSink
from cvops.video.source import VideoSource, open_source
from cvops.video.tasks import Task, TaskOptions
from cvops.video.uri import ContainerKind, resolve_video


@dataclass(frozen=True)
class ExtractionStats:
    bytes_read_from_source: int  # everything fetched for this video (the ffmpeg methods' reads through the feed too)
    source_requests: int
    seconds: float
    n_extracted: int
    n_cached: int


@dataclass(frozen=True)
class ExtractionResult:
    video: str
    fingerprint: str
    samples: tuple[ExtractedSample, ...]
    stats: ExtractionStats

    def to_frame(self) -> pd.DataFrame:
        """One row per requested frame: ``frame, sample_key, path, bytes, cached``."""
        return pd.DataFrame(
            {
                "frame": pd.Series([s.frame for s in self.samples], dtype="int64"),
                "sample_key": pd.Series([s.sample_key for s in self.samples], dtype="string"),
                "path": pd.Series([str(s.path) for s in self.samples], dtype="string"),
                "bytes": pd.Series([s.bytes for s in self.samples], dtype="int64"),
                "cached": pd.Series([s.cached for s in self.samples], dtype="bool"),
            }
        )

    def images(self) -> list[np.ndarray]:
        """The samples decoded as RGB arrays (height, width, 3), in the order of ``samples``."""
        return [np.asarray(Image.open(sample.path).convert("RGB")) for sample in self.samples]


@dataclass(frozen=True)
class VideoRequest:
    video: str
    frames: Sequence[int]


def extract_frames(
    video: str,
    frames: Sequence[int],
    store: SampleStore | None = None,
    *,
    fmt: str = "jpg",
    quality: int = 90,
    max_workers: int | None = None,
    progress: Progress | None = None,
    base_dir: str | Path | None = None,
    method: Method | str = Method.EXACT,
    settings: ReaderSettings | None = None,
    allow_local: bool = True,
) -> ExtractionResult:
    """Extract ``frames`` (1-based, presentation order) of ``video`` into the sample store.

    ``frames`` is any sequence of frame numbers; a :class:`~cvops.video.FrameRanges` (or a ``range``) is checked
    against the video's frame count before it is expanded.

    ``video`` is a path (relative to ``base_dir``, the label store), an ``http(s)://`` or an ``s3://`` URL, of an
    mp4 or an HLS playlist. ``progress(done, total)`` is called (from worker threads, one call at a time) as
    samples are found in the store or extracted. Raises :class:`~cvops.errors.InputError` for a bad address or
    frame number, :class:`FrameExtractionError` (naming video, frame and cause) when reading fails after retries.
    """
    (result,) = extract_videos(
        [VideoRequest(video, frames)],
        store,
        fmt=fmt,
        quality=quality,
        max_workers=max_workers,
        progress=progress,
        base_dir=base_dir,
        method=method,
        settings=settings,
        allow_local=allow_local,
    )
    return result


def extract_videos(
    requests: Sequence[VideoRequest],
    store: SampleStore | None = None,
    *,
    fmt: str = "jpg",
    quality: int = 90,
    max_workers: int | None = None,
    progress: Progress | None = None,
    base_dir: str | Path | None = None,
    method: Method | str = Method.EXACT,
    settings: ReaderSettings | None = None,
    allow_local: bool = True,
) -> list[ExtractionResult]:
    """:func:`extract_frames` for several videos sharing one worker pool; results in request order."""
    context = _Context(
        store=store or SampleStore.default(),
        encoding=SampleEncoding.of(fmt, quality),
        method=Method(method),
        settings=settings or ReaderSettings(),
        workers=max(1, max_workers or os.cpu_count() or 1),
        base_dir=Path(base_dir) if base_dir is not None else None,
        allow_local=allow_local,
        progress=ProgressCounter(progress),
    )
    jobs = [_VideoJob(request, context) for request in requests]
    context.progress.total = sum(len(job.frames) for job in jobs)
    _run(jobs, context.workers)
    return [job.result() for job in jobs]


def progress_reporter(report: Callable[[str], None], *, label: str, interval_s: float = 5.0) -> Progress:
    """A progress callback that reports ``label: done/total frames`` at most every ``interval_s`` seconds (and
    at the end), for logs where one line per frame would drown everything else. A URL label is shown redacted."""
    last = [float("-inf")]
    shown = redact_url(label)

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if done >= total or now - last[0] >= interval_s:
            last[0] = now
            report(f"{shown}: {done}/{total} frames")

    return progress


@dataclass
class _Context:
    store: SampleStore
    encoding: SampleEncoding
    method: Method
    settings: ReaderSettings
    workers: int
    base_dir: Path | None
    allow_local: bool
    progress: ProgressCounter


class _VideoJob:
    """One video's extraction: opened and planned on a worker, then its decode tasks run on the pool.

    The work itself is elsewhere: the source (:mod:`cvops.video.source`), the planners (``mp4_tasks``,
    ``hls_tasks``, ``ffmpeg_reader``) and the samples (:class:`~cvops.video.sink.SampleSink`).
    """

    def __init__(self, request: VideoRequest, context: _Context) -> None:
        self.request = request
        self.context = context
        self.frames = _validated_frames(request)
        self.sink: SampleSink | None = None  # made once the frames are known to be in the video
        self.source: VideoSource | None = None
        self.started = 0.0
        self.finished = False

    def prepare(self) -> list[Task]:
        """Fingerprint the video, take what the store has, plan the rest; return the decode tasks."""
        self.started = time.perf_counter()
        context = self.context
        location = resolve_video(self.request.video, context.base_dir, allow_local=context.allow_local)
        source = self.source = open_source(location, context.settings)
        options = TaskOptions(context.method, context.settings, 2 * context.workers, context.store.tables)
        if isinstance(self.frames, FrameRanges):  # not expanded yet: bound it by the video first
            _check_last_frame(source, self.frames.last, options)
        self.sink = SampleSink(self.frames, context.store, context.encoding, context.method, context.progress)
        missing = self.sink.take_cached(source.fingerprint)
        if not missing:
            return []
        planner = hls_tasks if source.container is ContainerKind.HLS else mp4_tasks
        return planner(source, missing, options, self.sink)

    def finish(self) -> None:
        """Keep what was learned about an HLS video (even after a failure: it is still true) and free the
        video's caches. Idempotent."""
        source = self.source
        if source is None or self.finished:
            return
        self.finished = True
        source.keep_learned(self.context.store.tables)
        source.release()

    def result(self) -> ExtractionResult:
        samples = self.sink.in_order() if self.sink is not None else ()
        n_cached = sum(sample.cached for sample in samples)
        transport = self.source.transport
        stats = ExtractionStats(
            bytes_read_from_source=transport.bytes_read,
            source_requests=transport.requests,
            seconds=self.sink.last_done - self.started,
            n_extracted=len(samples) - n_cached,
            n_cached=n_cached,
        )
        return ExtractionResult(self.source.name, self.source.fingerprint, samples, stats)


def _run(jobs: list[_VideoJob], workers: int) -> None:
    """Prepare every job on the pool, then run its tasks on the same pool; re-raise the first failure after the
    running tasks have finished (their samples are complete and stay in the store). A job is finished (its caches
    released) as soon as its last task is done, so many videos in one call do not pile up memory."""
    error: BaseException | None = None
    outstanding: dict[_VideoJob, int] = {}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cvops-frames") as pool:
        futures: dict[Future, tuple[_VideoJob, bool]] = {pool.submit(job.prepare): (job, True) for job in jobs}
        while futures:
            done, _ = wait(futures, return_when=FIRST_COMPLETED)
            for future in done:
                job, is_prepare = futures.pop(future)
                if future.cancelled():
                    continue
                failure = future.exception()
                if failure is not None and error is None:
                    error = failure
                    for pending in futures:
                        pending.cancel()
                if is_prepare and failure is None and error is None:
                    tasks = future.result()
                    outstanding[job] = len(tasks)
                    for task in tasks:
                        futures[pool.submit(task)] = (job, False)
                elif not is_prepare:
                    outstanding[job] -= 1
                if outstanding.get(job) == 0:
                    job.finish()
    for job in jobs:
        job.finish()
    if error is not None:
        raise error


def _validated_frames(request: VideoRequest) -> Sequence[int]:
    """The requested frames, sorted and unique; ranges stay ranges (see :mod:`cvops.video.frame_ranges`)."""
    if isinstance(request.frames, FrameRanges):
        return request.frames
    if isinstance(request.frames, range) and request.frames.step == 1:
        return FrameRanges([(request.frames.start, request.frames.stop - 1)] if request.frames else [])
    frames: set[int] = set()
    for value in request.frames:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise InputError(
                f"frame numbers are integers from 1, got {value!r}", file=redact_url(request.video), field="frame"
            )
        frames.add(int(value))
    return sorted(frames)


def _check_last_frame(source: VideoSource, last: int, options: TaskOptions) -> None:
    """Refuse frames past the end of the video before they are listed (mp4: its frame table; HLS: a bound from the
    playlist's durations, loose but enough to refuse absurd requests; the exact end is checked as frames are
    located)."""
    if source.container is ContainerKind.HLS:
        count, what = source.hls.max_frames(), "at most "
    else:
        count, what = frame_table(source, options).n_frames, ""
    if last > count:
        raise InputError(
            f"frame {last} is past the end of the video ({what}{count} frames)", file=source.name, field="frame"
        )
