"""Where a video lives, which schemes may be read, and which URIs a playlist may point at.

``matches.csv`` names a video as a path (relative to the label store or absolute), an ``http(s)://`` URL or an
``s3://`` URL. Nothing else is read: ``file://``, ``ftp://``, ``data:`` and friends are refused, and local paths
only when the caller says local files are allowed (they are for a label store on disk, not for one in a bucket).

HLS is the classic way to make a media reader open files it should not (a playlist listing ``file:///etc/passwd``
or an internal host as a "segment"), so every URI inside a playlist must stay on the playlist's own origin (and,
for a playlist on disk, inside the playlist's folder; on S3, in its bucket); :func:`resolve_child` enforces that.
http(s) URLs are judged by :mod:`cvops.url_policy`, with the parser that opens the connection; addresses are shown
to people only through :func:`cvops.redaction.redact_url`.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from cvops.errors import InputError
from cvops.redaction import redact_url
from cvops.url_policy import FORBIDDEN_CHARACTERS, Origin, UnsafeUrlError, check_s3_bucket, parse_http_url

_HLS_EXTENSIONS = (".m3u8", ".m3u")
_MP4_EXTENSIONS = (".mp4", ".m4v", ".mov")


class SourceKind(StrEnum):
    LOCAL = "local"
    HTTP = "http"
    S3 = "s3"


class ContainerKind(StrEnum):
    MP4 = "mp4"
    HLS = "hls"


@dataclass(frozen=True)
class VideoLocation:
    """A validated video address: ``uri`` is an absolute path for ``LOCAL``, else the full URL.

    ``container`` is ``None`` when the name does not tell (no known extension); the reader then sniffs the first
    bytes.
    """

    kind: SourceKind
    uri: str
    container: ContainerKind | None

    @property
    def display(self) -> str:
        """The address with credentials and signatures blanked, for logs and error messages."""
        return redact_url(self.uri) if self.kind is not SourceKind.LOCAL else self.uri

    def with_uri(self, uri: str) -> VideoLocation:
        return VideoLocation(self.kind, uri, container_from_name(uri))


def resolve_video(video: str, base_dir: str | Path | None = None, *, allow_local: bool = True) -> VideoLocation:
    """Validate the ``video`` field of ``matches.csv`` and make it absolute.

    Relative paths are resolved against ``base_dir`` (the label store), else the working directory.
    """
    text = video.strip()
    if not text:
        raise InputError("the video address is empty", field="video")
    try:
        parts = urlsplit(text)
    except ValueError as exc:  # "Invalid IPv6 URL" and friends
        raise InputError(f"refusing {redact_url(text)!r}: it cannot be parsed ({exc})", field="video") from None
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        try:
            parse_http_url(text)
        except UnsafeUrlError as exc:
            raise InputError(f"refusing {redact_url(text)!r}: {exc}", field="video") from None
        return VideoLocation(SourceKind.HTTP, text, container_from_name(parts.path))
    if scheme == "s3":
        if not parts.netloc or not parts.path.strip("/"):
            raise InputError(f"{redact_url(text)!r} must look like s3://bucket/key", field="video")
        try:
            check_s3_bucket(parts.netloc)
        except UnsafeUrlError as exc:
            raise InputError(f"refusing {redact_url(text)!r}: {exc}", field="video") from None
        return VideoLocation(SourceKind.S3, text, container_from_name(parts.path))
    if scheme and len(scheme) > 1:
        raise InputError(
            f"{redact_url(text)!r} uses the {scheme}:// scheme; videos are read from http(s)://, s3:// or a path "
            "in a local label store",
            field="video",
        )
    if not allow_local:
        raise InputError(
            f"{redact_url(text)!r} is a local path, which is only allowed for a label store on disk", field="video"
        )
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = Path(base_dir or Path.cwd()) / path
    return VideoLocation(SourceKind.LOCAL, str(path.resolve()), container_from_name(path.name))


def container_from_name(name: str) -> ContainerKind | None:
    path = urlsplit(name).path.lower() if "://" in name else name.lower()
    if path.endswith(_HLS_EXTENSIONS):
        return ContainerKind.HLS
    if path.endswith(_MP4_EXTENSIONS):
        return ContainerKind.MP4
    return None


def resolve_child(parent: VideoLocation, reference: str, *, what: str) -> VideoLocation:
    """Resolve a URI found inside the playlist at ``parent``, refusing anything off the playlist's origin.

    ``what`` ("segment", "key", ...) names the reference in the error, together with the playlist.
    """
    reference = reference.strip()
    if not reference:
        raise InputError(f"an empty {what} URI", file=parent.display)
    if FORBIDDEN_CHARACTERS.search(reference):
        raise _refused(parent, reference, what, "it contains whitespace, a control character or a backslash")
    if parent.kind is SourceKind.HTTP:
        try:
            child = urljoin(parent.uri, reference)
            child_origin = parse_http_url(child).origin
        except ValueError as exc:  # UnsafeUrlError, or urljoin's "Invalid IPv6 URL"
            raise _refused(parent, reference, what, str(exc)) from None
        if child_origin != http_origin(parent.uri):
            raise _refused(parent, reference, what, f"it is not on {http_origin(parent.uri)}")
        return parent.with_uri(child)
    if parent.kind is SourceKind.S3:
        bucket, key = split_s3(parent.uri)
        try:
            ref = urlsplit(reference)
        except ValueError as exc:
            raise _refused(parent, reference, what, str(exc)) from None
        if ref.scheme:
            if ref.scheme.lower() != "s3" or ref.netloc != bucket:
                raise _refused(parent, reference, what, f"it is not in s3://{bucket}")
            child_key = ref.path.lstrip("/")
        elif reference.startswith("/"):
            child_key = reference.lstrip("/")
        else:
            child_key = posixpath.normpath(posixpath.join(posixpath.dirname(key), reference))
        if child_key.startswith("../") or child_key in ("", ".", ".."):
            raise _refused(parent, reference, what, f"it leaves s3://{bucket}")
        return parent.with_uri(f"s3://{bucket}/{child_key}")
    # A playlist on disk: only relative paths that stay inside the playlist's folder.
    if ":" in reference or reference.startswith(("/", "\\", "~")):
        raise _refused(parent, reference, what, "a local playlist may only name files beside it")
    folder = Path(parent.uri).parent
    child_path = (folder / reference).resolve()
    if not child_path.is_relative_to(folder):
        raise _refused(parent, reference, what, f"it is outside {folder}")
    return parent.with_uri(str(child_path))


def http_origin(url: str) -> Origin:
    """The origin an http(s) URL that :func:`resolve_video` accepted connects to."""
    return parse_http_url(url).origin


def split_s3(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    return parts.netloc, parts.path.lstrip("/")


def _refused(parent: VideoLocation, reference: str, what: str, why: str) -> InputError:
    return InputError(f"refusing {what} URI {redact_url(reference)!r}: {why}", file=parent.display)
