"""Where one video's extracted frames go: encoded, written to the sample store, recorded and counted.

The decode tasks of every method hand their pictures to a :class:`SampleSink`; it is the only place that knows
which frames are done, so it also names the frames still missing when a task fails.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
from PIL import Image

from cvops.errors import CvopsError, InputError
from cvops.video.errors import FrameExtractionError, SourceReadError
from cvops.video.options import Method
from cvops.video.sample_store import SampleEncoding, SampleStore

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ExtractedSample:
    frame: int
    sample_key: str
    path: Path
    bytes: int
    cached: bool


class ProgressCounter:
    """Frames done over all videos of one extraction, reported to the caller's ``progress(done, total)``."""

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


class SampleSink:
    """The samples of one video: looked up in the store, or encoded and written as the tasks emit them.

    Thread-safe: the video's tasks emit from several workers.
    """

    def __init__(
        self,
        frames: Sequence[int],
        store: SampleStore,
        encoding: SampleEncoding,
        method: Method,
        progress: ProgressCounter,
    ) -> None:
        self.frames = list(frames)
        self.store = store
        self.encoding = encoding
        self.method = method
        self.progress = progress
        self.keys: dict[int, str] = {}
        self.samples: dict[int, ExtractedSample] = {}
        self.last_done = 0.0
        self._lock = threading.Lock()

    def take_cached(self, fingerprint: str) -> list[int]:
        """Address every frame by the video's fingerprint, record those the store has; return the others."""
        for frame in self.frames:
            self.keys[frame] = self.store.key(fingerprint, frame, self.encoding, self.method)
        for frame in self.frames:
            path = self.store.get(self.keys[frame], self.encoding)
            if path is not None:
                self._record(frame, path, path.stat().st_size, cached=True)
        self.progress.advance(len(self.samples))
        self.last_done = time.perf_counter()
        return [frame for frame in self.frames if frame not in self.samples]

    def emit(self, frame: int, picture: av.VideoFrame | Image.Image) -> None:
        """Encode one extracted picture and write it to the store (atomically)."""
        image = picture.to_image() if isinstance(picture, av.VideoFrame) else picture
        data = self.encoding.encode(image)
        path = self.store.put(self.keys[frame], self.encoding, data)
        self._record(frame, path, len(data), cached=False)
        self.last_done = time.perf_counter()
        self.progress.advance(1)

    def in_order(self) -> tuple[ExtractedSample, ...]:
        return tuple(self.samples[frame] for frame in self.frames)

    def failures_named(self, name: str, frames: Sequence[int]) -> contextlib.AbstractContextManager[None]:
        """Turn a read or decode failure of a task over ``frames`` into one error naming the video and the frames
        it left undone."""
        return _named_failures(name, lambda: [f for f in frames if f not in self.samples])

    def _record(self, frame: int, path: Path, size: int, *, cached: bool) -> None:
        with self._lock:
            self.samples[frame] = ExtractedSample(frame, self.keys[frame], path, size, cached)


@contextlib.contextmanager
def _named_failures(name: str, frames_left: Callable[[], list[int]]) -> Iterator[None]:
    try:
        yield
    except (FrameExtractionError, InputError):
        raise
    except (SourceReadError, av.FFmpegError, OSError, CvopsError) as exc:
        raise FrameExtractionError(f"{name}: frame(s) {list_frames(frames_left())}: {exc}") from exc


def list_frames(frames: Sequence[int], limit: int = 10) -> str:
    shown = ", ".join(map(str, frames[:limit]))
    return shown + (f" and {len(frames) - limit} more" if len(frames) > limit else "")
