"""Which ffmpeg binary cvops runs.

Order (README.md lists the variable): ``CVOPS_FFMPEG``, else an ``ffmpeg`` on the PATH, else the static binary that
the ``imageio-ffmpeg`` wheel ships, so a fresh ``pip install`` is enough and no system package is needed.
"""

from __future__ import annotations

import functools
import os
import shutil

from cvops.errors import CvopsError


@functools.cache
def ffmpeg_binary() -> str:
    configured = os.environ.get("CVOPS_FFMPEG")
    if configured:
        if shutil.which(configured) is None:
            raise CvopsError(f"CVOPS_FFMPEG={configured!r} is not an executable ffmpeg")
        return configured
    system = shutil.which("ffmpeg")
    if system:
        return system
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - imageio-ffmpeg is a declared dependency
        raise CvopsError("no ffmpeg found: set CVOPS_FFMPEG or install imageio-ffmpeg") from exc
    return imageio_ffmpeg.get_ffmpeg_exe()
