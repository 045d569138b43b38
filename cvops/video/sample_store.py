"""The sample store: extracted frames as image files, addressed by what determines their content.

A sample's key is a SHA-256 over the video's content fingerprint (not its URL: a presigned URL that is re-signed,
a store that moves, an S3 object also served over HTTP all hit the same entries), the frame number, the image
encoding (format and JPEG quality) and the extraction method when it is not the exact one (so a strategy kept for
comparison can never shadow an exact sample). Files live at ``<root>/<key[:2]>/<key>.<ext>`` and are written
atomically, so an entry that exists is complete: a frame already extracted is never fetched again.

Per-video frame tables (mp4 indexes, HLS segment timestamps) are cached under ``<root>/_tables``.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from cvops.errors import InputError
from cvops.io import write_bytes_atomic
from cvops.settings import CvopsPaths

KEY_VERSION = "cvops-sample/1"
_FORMATS = {"jpg": "jpg", "jpeg": "jpg", "png": "png"}


@dataclass(frozen=True)
class SampleEncoding:
    """How a frame is stored: ``jpg`` at ``quality`` (1-100) or lossless ``png`` (quality does not apply)."""

    fmt: str
    quality: int | None

    @classmethod
    def of(cls, fmt: str, quality: int = 90) -> SampleEncoding:
        normalized = _FORMATS.get(fmt.lower().lstrip("."))
        if normalized is None:
            raise InputError(f"unknown image format {fmt!r} (use jpg or png)", field="format")
        if normalized == "png":
            return cls("png", None)
        if not 1 <= quality <= 100:
            raise InputError(f"JPEG quality {quality} is not in 1..100", field="quality")
        return cls("jpg", int(quality))

    @property
    def extension(self) -> str:
        return self.fmt

    @property
    def key_part(self) -> str:
        return f"jpg:q{self.quality}" if self.fmt == "jpg" else "png"

    def encode(self, image: Image.Image) -> bytes:
        buffer = io.BytesIO()
        if self.fmt == "jpg":
            image.save(buffer, format="JPEG", quality=self.quality)
        else:
            image.save(buffer, format="PNG")
        return buffer.getvalue()


class SampleStore:
    """A folder of extracted frames (see the module docstring). Safe for concurrent writers."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @classmethod
    def default(cls) -> SampleStore:
        """The store under ``$CVOPS_HOME/samples``."""
        return cls(CvopsPaths.from_env().samples)

    @property
    def tables(self) -> Path:
        return self.root / "_tables"

    @staticmethod
    def key(fingerprint: str, frame: int, encoding: SampleEncoding, method: str = "exact") -> str:
        material = [KEY_VERSION, f"video={fingerprint}", f"frame={frame}", f"encoding={encoding.key_part}"]
        if method != "exact":
            material.append(f"method={method}")
        return hashlib.sha256("\n".join(material).encode()).hexdigest()

    def path(self, key: str, encoding: SampleEncoding) -> Path:
        return self.root / key[:2] / f"{key}.{encoding.extension}"

    def get(self, key: str, encoding: SampleEncoding) -> Path | None:
        path = self.path(key, encoding)
        return path if path.is_file() else None

    def put(self, key: str, encoding: SampleEncoding, data: bytes) -> Path:
        path = self.path(key, encoding)
        write_bytes_atomic(path, data)
        return path
