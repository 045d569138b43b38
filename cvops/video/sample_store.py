"""The sample store: extracted frames as image files, addressed by what determines their content.

A sample's key is a SHA-256 over the video's content fingerprint (not its URL: a presigned URL that is re-signed,
a store that moves, an S3 object also served over HTTP all hit the same entries), the frame number, the image
encoding (format and JPEG quality) and the extraction method when it is not the exact one (so a strategy kept for
comparison can never shadow an exact sample). Files live at ``<root>/<key[:2]>/<key>.<ext>`` and are written
atomically, so an entry that exists is complete: a frame already extracted is never fetched again.

Per-video frame tables (mp4 indexes, HLS segment timestamps) are cached under ``<root>/_tables``.

With ``CVOPS_STATE_URL=s3://bucket/prefix`` the store is shared by every node: each sample written is also put
at ``<prefix>/samples/<key[:2]>/<key>.<ext>``, and a sample another node wrote is downloaded on first use; the
local folder is then only a cache. Entries are content-addressed, so two nodes writing one key write the same
bytes and an unconditional PUT is safe.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from cvops.errors import CvopsError, InputError
from cvops.io import atomic_path, write_bytes_atomic
from cvops.s3 import S3Settings
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
    """A folder of extracted frames (see the module docstring), optionally the cache of a ``remote``
    (``s3://bucket/prefix`` under which the samples are shared). Safe for concurrent writers."""

    def __init__(self, root: str | Path, remote: str | None = None, s3: S3Settings | None = None) -> None:
        self.root = Path(root)
        self.remote = remote.rstrip("/") if remote else None
        self.s3 = s3 or S3Settings()
        self._client: Any = None

    @classmethod
    def default(cls, s3: S3Settings | None = None) -> SampleStore:
        """The store under ``$CVOPS_HOME/samples``, shared under ``$CVOPS_STATE_URL/samples`` when that is set."""
        paths = CvopsPaths.from_env()
        return cls(paths.samples, f"{paths.state_url.rstrip('/')}/samples" if paths.state_url else None, s3)

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
        if path.is_file() or self._download(path):
            return path
        return None

    def put(self, key: str, encoding: SampleEncoding, data: bytes) -> Path:
        path = self.path(key, encoding)
        write_bytes_atomic(path, data)
        if self.remote:
            bucket, object_key = self._object(path)
            self._s3_client().put_object(Bucket=bucket, Key=object_key, Body=data)
        return path

    def localize(self, path: str | Path) -> Path:
        """This node's copy of a sample that any node's store wrote (``path`` as the ``frame_samples`` table
        holds it: only its file name, ``<key>.<ext>``, is used), downloaded from the remote if needed."""
        name = Path(path).name
        local = self.root / name[:2] / name
        if local.is_file() or self._download(local):
            return local
        where = f" or {self.remote}" if self.remote else ""
        raise CvopsError(f"sample {name} is in neither {self.root}{where}")

    def _object(self, path: Path) -> tuple[str, str]:
        assert self.remote is not None
        bucket, _, prefix = self.remote.removeprefix("s3://").partition("/")
        relative = path.relative_to(self.root).as_posix()
        return bucket, f"{prefix}/{relative}" if prefix else relative

    def _download(self, path: Path) -> bool:
        if not self.remote:
            return False
        from botocore.exceptions import ClientError

        bucket, object_key = self._object(path)
        try:
            response = self._s3_client().get_object(Bucket=bucket, Key=object_key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404", "NotFound"}:
                return False
            raise
        with atomic_path(path) as tmp:
            tmp.write_bytes(response["Body"].read())
        return True

    def _s3_client(self) -> Any:
        if self._client is None:
            self._client = self.s3.client()
        return self._client
