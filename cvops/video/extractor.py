"""A frame extractor with its settings fixed: what a pipeline step holds to read frames of many matches."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cvops.video.extract import ExtractionResult, Progress, extract_frames
from cvops.video.options import ReaderSettings
from cvops.video.sample_store import SampleStore

FrameReader = Callable[[Sequence[int]], list[np.ndarray]]
"""Reads frames (1-based video frame numbers) of one video as RGB arrays, in the order asked."""


@dataclass(frozen=True)
class FrameExtractor:
    """Extracts frames into ``store`` as ``fmt`` images, reading videos as ``settings`` say."""

    store: SampleStore
    settings: ReaderSettings = field(default_factory=ReaderSettings)
    fmt: str = "jpg"
    quality: int = 90
    max_workers: int | None = None
    """Parallel decode tasks; None: the CPU count."""

    def extract(
        self,
        video: str,
        frames: Sequence[int],
        *,
        base_dir: str | Path | None = None,
        progress: Progress | None = None,
    ) -> ExtractionResult:
        """Frames of ``video`` (a path relative to ``base_dir``, the label store, or a URL) in the sample store."""
        return extract_frames(
            video,
            frames,
            self.store,
            fmt=self.fmt,
            quality=self.quality,
            max_workers=self.max_workers,
            progress=progress,
            base_dir=base_dir,
            settings=self.settings,
        )

    def frame_reader(
        self, video: str, *, base_dir: str | Path | None = None, progress: Progress | None = None
    ) -> FrameReader:
        """Reads frames of ``video`` as RGB arrays, through the sample store."""
        return lambda frames: self.extract(video, frames, base_dir=base_dir, progress=progress).images()
