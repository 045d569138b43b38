"""Errors of the video package. Both name the video (with signatures blanked) and the cause."""

from __future__ import annotations

from cvops.errors import CvopsError


class SourceReadError(CvopsError):
    """Bytes of a video (or playlist, segment) could not be read; names the object and the cause."""


class FrameExtractionError(CvopsError):
    """A frame could not be extracted exactly; names the video, the frame(s) and the cause."""
