"""Exact frame extraction from local, HTTP(S) and S3 videos (mp4 and HLS) into a content-addressed sample store.

See ``docs/video.md`` for how frames are addressed, read, planned and cached. The entry points:

* :func:`extract_frames` / :func:`extract_videos`: frames of videos into the :class:`SampleStore`.
* :func:`render_preview`: a few samples with boxes and track ids drawn, as PNG bytes.
"""

from cvops.video.errors import FrameExtractionError, SourceReadError
from cvops.video.extract import (
    ExtractionResult,
    ExtractionStats,
    VideoRequest,
    extract_frames,
    extract_videos,
    progress_reporter,
)
from cvops.video.extractor import FrameExtractor, FrameReader
from cvops.video.frame_ranges import FrameRanges, parse_frame_ranges
from cvops.video.options import Method, ReaderSettings
from cvops.video.preview import render_preview
from cvops.video.sample_store import SampleEncoding, SampleStore
from cvops.video.sink import ExtractedSample

__all__ = [
    "ExtractedSample",
    "ExtractionResult",
    "ExtractionStats",
    "FrameExtractionError",
    "FrameExtractor",
    "FrameRanges",
    "FrameReader",
    "Method",
    "ReaderSettings",
    "SampleEncoding",
    "SampleStore",
    "SourceReadError",
    "VideoRequest",
    "extract_frames",
    "extract_videos",
    "parse_frame_ranges",
    "progress_reporter",
    "render_preview",
]
