"""Extracting frames into the sample store: cache lookup, planning, a worker pool, encoding, statistics.

``extract_frames`` is what the ``frame_samples`` asset and the ``cvops frames`` command call; ``extract_videos``
does several videos in one worker pool. Per video: resolve and fingerprint it, answer what the sample store already
has, build (or load) its frame table, plan GOP runs or segment groups, and hand them to the pool. Workers decode,
encode (JPEG or PNG) and write each sample atomically as soon as it is out, so an interrupted extraction keeps
what it finished and a re-run fetches only the rest.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pandas as pd
from PIL import Image

from cvops.errors import CvopsError, InputError
from cvops.io import write_text_atomic
from cvops.video.errors import FrameExtractionError, SourceReadError
from cvops.video.ffmpeg_reader import FfmpegSeek, ffmpeg_command, ffmpeg_frame, frame_seconds
from cvops.video.frame_table import FrameTable
from cvops.video.hls import HlsIndex
from cvops.video.options import ReaderSettings
from cvops.video.planner import DecodeRun, partition_in_order, plan_mp4
from cvops.video.pyav_reader import Mp4Decoder, PyavSeekReader, open_mp4
from cvops.video.sample_store import SampleEncoding, SampleStore
from cvops.video.source import VideoSource, open_source
from cvops.video.uri import ContainerKind, SourceKind, resolve_video

Progress = Callable[[int, int], None]


class Method(StrEnum):
    """How frames are read. Only ``exact`` is exact everywhere; the others exist to be measured against."""

    EXACT = "exact"
    PYAV_SEEK = "pyav-seek"
    FFMPEG_SEEK = "ffmpeg-seek"
    FFMPEG_COARSE = "ffmpeg-coarse"


@dataclass(frozen=True)
class ExtractedSample:
    frame: int
    sample_key: str
    path: Path
    bytes: int
    cached: bool


@dataclass(frozen=True)
class ExtractionStats:
    bytes_read_from_source: int  # everything this process fetched (ffmpeg's own reads are not included)
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
        progress=_ProgressCounter(progress),
    )
    jobs = [_VideoJob(request, context) for request in requests]
    context.progress.total = sum(len(job.frames) for job in jobs)
    _run(jobs, context.workers)
    return [job.result() for job in jobs]


def progress_reporter(report: Callable[[str], None], *, label: str, interval_s: float = 5.0) -> Progress:
    """A progress callback that reports ``label: done/total frames`` at most every ``interval_s`` seconds (and
    at the end), for logs where one line per frame would drown everything else."""
    last = [float("-inf")]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if done >= total or now - last[0] >= interval_s:
            last[0] = now
            report(f"{label}: {done}/{total} frames")

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
    progress: _ProgressCounter


class _ProgressCounter:
    def __init__(self, callback: Progress | None) -> None:
        self._callback = callback
        self._lock = threading.Lock()
        self.done = 0
        self.total = 0

    def advance(self, count: int) -> None:
        if count <= 0:
            return
        with self._lock:
            self.done += count
            if self._callback is not None:
                self._callback(self.done, self.total)


class _VideoJob:
    """One video's extraction: prepared on a worker, then its decode tasks run on the pool."""

    def __init__(self, request: VideoRequest, context: _Context) -> None:
        self.request = request
        self.context = context
        self.frames = _validated_frames(request)
        self.source: VideoSource | None = None
        self.keys: dict[int, str] = {}
        self.samples: dict[int, ExtractedSample] = {}
        self.started = 0.0
        self.last_done = 0.0
        self.finished = False
        self._lock = threading.Lock()

    # -- preparation -----------------------------------------------------------------------------------------

    def prepare(self) -> list[Callable[[], None]]:
        """Fingerprint the video, take what the store has, plan the rest; return the decode tasks."""
        self.started = time.perf_counter()
        context = self.context
        location = resolve_video(self.request.video, context.base_dir, allow_local=context.allow_local)
        source = self.source = open_source(location, context.settings)
        for frame in self.frames:
            self.keys[frame] = context.store.key(source.fingerprint, frame, context.encoding, context.method)
        for frame in self.frames:
            path = context.store.get(self.keys[frame], context.encoding)
            if path is not None:
                self._record(frame, path, path.stat().st_size, cached=True)
        missing = [frame for frame in self.frames if frame not in self.samples]
        context.progress.advance(len(self.samples))
        self.last_done = time.perf_counter()
        if not missing:
            return []
        if source.container is ContainerKind.HLS:
            return self._hls_tasks(source, missing)
        return self._mp4_tasks(source, missing)

    def _mp4_tasks(self, source: VideoSource, missing: list[int]) -> list[Callable[[], None]]:
        context = self.context
        table = self._frame_table(source)
        beyond = [frame for frame in missing if frame > table.n_frames]
        if beyond:
            raise InputError(
                f"frame {beyond[0]} is past the end of the video ({table.n_frames} frames)",
                file=source.name,
                field="frame",
            )
        max_tasks = 2 * context.workers
        if context.method is Method.EXACT:
            plans = plan_mp4(table, missing, max_tasks=max_tasks, seek_cost_frames=context.settings.seek_cost_frames)
            return [lambda runs=runs: self._exact_mp4_task(source, table, runs) for runs in plans]
        chunks = partition_in_order(missing, [1] * len(missing), max_tasks)
        if context.method is Method.PYAV_SEEK:
            return [lambda chunk=chunk: self._pyav_seek_task(source, table, chunk) for chunk in chunks]
        info = table.info
        if not info.average_rate:
            raise FrameExtractionError(f"{source.name}: no frame rate, so time-based seeking cannot be used")
        duration = 1 / Fraction(info.average_rate)
        return [lambda chunk=chunk: self._ffmpeg_task(source, chunk, duration) for chunk in chunks]

    def _hls_tasks(self, source: VideoSource, missing: list[int]) -> list[Callable[[], None]]:
        context = self.context
        hls = source.hls
        index_path = source.hls_index_path(context.store.tables)
        if index_path.is_file():
            # A damaged cache entry is ignored: the index starts afresh and is rewritten at the end.
            with contextlib.suppress(ValueError, KeyError, TypeError):
                hls.use_index(HlsIndex.from_json(index_path.read_text()))
        if context.method is Method.PYAV_SEEK:
            raise FrameExtractionError(f"{source.name}: the pyav-seek method reads mp4 only")
        max_tasks = 2 * context.workers
        if context.method is Method.EXACT:
            by_segment: dict[int, list[int]] = {}
            for frame in missing:
                by_segment.setdefault(hls.estimate_segment(frame), []).append(frame)
            groups = [by_segment[k] for k in sorted(by_segment)]
            chunks = partition_in_order(groups, [1] * len(groups), max_tasks)
            return [
                lambda chunk=chunk: self._exact_hls_task(source, [f for group in chunk for f in group])
                for chunk in chunks
            ]
        anchor = hls.anchor
        duration = anchor.frame_ticks * anchor.time_base
        chunks = partition_in_order(missing, [1] * len(missing), max_tasks)
        return [lambda chunk=chunk: self._ffmpeg_task(source, chunk, duration) for chunk in chunks]

    def _frame_table(self, source: VideoSource) -> FrameTable:
        path = source.frame_table_path(self.context.store.tables)
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

    # -- decode tasks ----------------------------------------------------------------------------------------

    def _exact_mp4_task(self, source: VideoSource, table: FrameTable, runs: list[DecodeRun]) -> None:
        frames = [frame for run in runs for frame in run.frames]
        with self._failures_named(source, frames):
            settings = self.context.settings
            with Mp4Decoder(
                source.open_file,
                table,
                name=source.name,
                decoder_threads=settings.decoder_threads,
                skip_unreferenced=settings.skip_unreferenced,
            ) as decoder:
                decoder.decode(runs, self._store)

    def _exact_hls_task(self, source: VideoSource, frames: list[int]) -> None:
        hls = source.hls
        with self._failures_named(source, frames):
            wanted: dict[int, dict[int, int]] = {}
            for frame in frames:
                segment, pts = hls.locate(frame)
                wanted.setdefault(segment, {})[pts] = frame
            for segment in sorted(wanted):
                missing = hls.decode(segment, wanted[segment], self._store)
                if missing:
                    raise FrameExtractionError(
                        f"{source.name}: frame(s) {_list(missing)} were not produced by decoding segment {segment}"
                    )

    def _pyav_seek_task(self, source: VideoSource, table: FrameTable, frames: list[int]) -> None:
        with self._failures_named(source, frames):
            reader = PyavSeekReader(source.open_file, table, decoder_threads=self.context.settings.decoder_threads)
            try:
                reader.read(frames, self._store)
            finally:
                reader.close()

    def _ffmpeg_task(self, source: VideoSource, frames: list[int], frame_duration_s: Fraction) -> None:
        seek = FfmpegSeek.INPUT if self.context.method is Method.FFMPEG_SEEK else FfmpegSeek.COARSE_THEN_ACCURATE
        location = source.location
        url, kind = location.uri, location.kind
        if kind is SourceKind.S3:
            if source.container is ContainerKind.HLS:
                raise FrameExtractionError(f"{source.name}: ffmpeg cannot read HLS from S3 (unsigned segment URLs)")
            url, kind = source.transport.presign(location.uri), SourceKind.HTTP
        elif source.container is ContainerKind.HLS:
            url = source.hls.playlist.location.uri
        timeout = self.context.settings.timeout_s * (self.context.settings.retries + 1)
        for frame in frames:
            command = ffmpeg_command(
                url,
                frame_seconds(frame, frame_duration_s),
                kind=kind,
                container=source.container,
                seek=seek,
                timeout_s=self.context.settings.timeout_s,
            )
            self._store(frame, ffmpeg_frame(command, timeout_s=timeout, name=source.name, frame=frame))

    def _failures_named(self, source: VideoSource, frames: list[int]) -> contextlib.AbstractContextManager[None]:
        return _named_failures(source.name, lambda: [f for f in frames if f not in self.samples])

    # -- results ---------------------------------------------------------------------------------------------

    def _store(self, frame: int, picture: av.VideoFrame | Image.Image) -> None:
        image = picture.to_image() if isinstance(picture, av.VideoFrame) else picture
        encoding = self.context.encoding
        data = encoding.encode(image)
        path = self.context.store.put(self.keys[frame], encoding, data)
        self._record(frame, path, len(data), cached=False)
        self.last_done = time.perf_counter()
        self.context.progress.advance(1)

    def _record(self, frame: int, path: Path, size: int, *, cached: bool) -> None:
        with self._lock:
            self.samples[frame] = ExtractedSample(frame, self.keys[frame], path, size, cached)

    def finish(self) -> None:
        """Keep what was learned about an HLS video (even after a failure: it is still true) and free the
        video's caches. Idempotent."""
        source = self.source
        if source is None or self.finished:
            return
        self.finished = True
        if source.hls is not None and source.hls.changed:
            write_text_atomic(source.hls_index_path(self.context.store.tables), source.hls.index.to_json())
        source.release()

    def result(self) -> ExtractionResult:
        samples = tuple(self.samples[frame] for frame in self.frames)
        n_cached = sum(sample.cached for sample in samples)
        transport = self.source.transport
        stats = ExtractionStats(
            bytes_read_from_source=transport.bytes_read,
            source_requests=transport.requests,
            seconds=self.last_done - self.started,
            n_extracted=len(samples) - n_cached,
            n_cached=n_cached,
        )
        return ExtractionResult(self.source.name, self.source.fingerprint, samples, stats)


@contextlib.contextmanager
def _named_failures(name: str, frames_left: Callable[[], list[int]]) -> Iterator[None]:
    """Turn a read or decode failure inside a task into one error naming the video and the frames left."""
    try:
        yield
    except (FrameExtractionError, InputError):
        raise
    except (SourceReadError, av.FFmpegError, OSError, CvopsError) as exc:
        raise FrameExtractionError(f"{name}: frame(s) {_list(frames_left())}: {exc}") from exc


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


def _validated_frames(request: VideoRequest) -> list[int]:
    frames: set[int] = set()
    for value in request.frames:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise InputError(f"frame numbers are integers from 1, got {value!r}", file=request.video, field="frame")
        frames.add(int(value))
    return sorted(frames)


def _list(frames: Sequence[int], limit: int = 10) -> str:
    shown = ", ".join(map(str, frames[:limit]))
    return shown + (f" and {len(frames) - limit} more" if len(frames) > limit else "")
