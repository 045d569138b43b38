"""Shards: a match's sample images packed into plain, deterministic tar files that are read with random access.

A shard is an uncompressed POSIX (ustar) tar whose members are ``<match_id>/<frame:06d>.jpg``, in frame order:
the WebDataset convention (key ``<match_id>/<frame>``, extension ``jpg``), so ``tar``, Python's ``tarfile`` and
``webdataset`` read it as it is. Its header fields are fixed (mode 0444, owner 0, no user or group name, mtime 0),
so the same samples always give the same bytes, hence the same DVC object. The byte range of each image in the
shard is recorded in the match's ``samples.parquet`` (``offset``, ``size``), which is the random-access index:
reading a sample is one ``pread`` of ``size`` bytes, with no scan of the tar and no unpacking.

The standard library's ``tarfile`` writes the shards: it is the reference implementation of the format, and the
only thing added here is recording where each member's data starts (``tarfile`` keeps that to itself while
writing).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tarfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cvops.errors import CvopsError

SHARD_SUFFIX = ".tar"
NUL = b"\0"
_FORMAT = tarfile.USTAR_FORMAT
_ENCODING = "utf-8"


def member_name(match_id: str, frame: int) -> str:
    """The tar member of a sample (WebDataset key ``<match_id>/<frame:06d>``, extension ``jpg``)."""
    return f"{match_id}/{int(frame):06d}.jpg"


def _member_info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o444
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


_TEMPLATE = _member_info("", 0).tobuf(_FORMAT, _ENCODING, "surrogateescape")
_NAME, _SIZE, _CHECKSUM = slice(0, 100), slice(124, 136), slice(148, 156)


def member_header(name: str, size: int) -> bytes:
    """The ustar header ``tarfile`` writes for a member (``TarInfo.tobuf``), filled in from one template.

    ``tobuf`` builds all seventeen fields in Python for every member: 40% of the time of packing a new match
    of small images. Only the name, the size and the checksum differ between members, so they are put into a
    copy of a header ``tarfile`` made (the checksum as POSIX defines it: the byte sum with the field as spaces,
    six octal digits, NUL, space). Names that do not fit the 100-byte field go through ``tobuf`` itself.
    """
    encoded = name.encode(_ENCODING)
    if len(encoded) > 100 or size >= 8**11:
        return _member_info(name, size).tobuf(_FORMAT, _ENCODING, "surrogateescape")
    header = bytearray(_TEMPLATE)
    header[_NAME] = encoded.ljust(100, NUL)
    header[_SIZE] = b"%011o\0" % size
    header[_CHECKSUM] = b" " * 8
    header[_CHECKSUM] = b"%06o\0 " % sum(header)
    return bytes(header)


@dataclass(frozen=True)
class PackedShard:
    """A shard just written: its file, its md5 (the DVC object id) and where each member's bytes are."""

    path: Path
    md5: str
    offsets: tuple[int, ...]
    sizes: tuple[int, ...]


def shard_name(match_id: str, first_frame: int, last_frame: int, md5: str) -> str:
    """``<match_id>-<first frame>-<last frame>-<md5 prefix>.tar``: readable, and unique because of the hash."""
    return f"{match_id}-{int(first_frame):06d}-{int(last_frame):06d}-{md5[:10]}{SHARD_SUFFIX}"


def write_shard(folder: Path, match_id: str, frames: Sequence[int], sources: Sequence[str]) -> PackedShard:
    """Pack the images ``sources`` (one per frame, frames ascending) into a new shard in ``folder``.

    The member headers are ``tarfile``'s own (``TarInfo.tobuf``); the rest of the format is written here, as
    ``TarFile.addfile`` and ``TarFile.close`` would write it (data padded to 512-byte blocks, two zero blocks,
    the archive padded to a 10240-byte record), because ``addfile`` builds every header twice and this loop
    runs once per sample of a season. The shard is written to a temporary file and renamed to its
    content-derived name, so a killed run leaves no shard that could be mistaken for a complete one.
    """
    if not frames:
        raise ValueError("a shard needs at least one sample")
    offsets, sizes = [], []
    digest = hashlib.md5()
    position = 0
    tmp = folder / f".{match_id}.{uuid.uuid4().hex[:12]}{SHARD_SUFFIX}.tmp"
    try:
        with open(tmp, "xb") as out:

            def write(chunk: bytes) -> None:
                nonlocal position
                digest.update(chunk)
                out.write(chunk)
                position += len(chunk)

            for frame, source in zip(frames, sources, strict=True):
                with open(source, "rb") as handle:
                    data = handle.read()
                write(
                    _member_info(member_name(match_id, frame), len(data)).tobuf(_FORMAT, _ENCODING, "surrogateescape")
                )
                offsets.append(position)
                sizes.append(len(data))
                write(data + _padding(len(data), tarfile.BLOCKSIZE))
            write(NUL * (2 * tarfile.BLOCKSIZE))
            write(_padding(position, tarfile.RECORDSIZE))
        md5 = digest.hexdigest()
        final = folder / shard_name(match_id, frames[0], frames[-1], md5)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return PackedShard(path=final, md5=md5, offsets=tuple(offsets), sizes=tuple(sizes))


def _padding(length: int, block: int) -> bytes:
    return NUL * (-length % block)


class ShardReader:
    """Reads sample bytes by (shard path, offset, size), keeping one open file per shard.

    Picklable: open files are dropped when pickled (a DataLoader worker opens its own), since a file descriptor
    shared across processes would share its position (``pread`` does not use it, but the close would).
    """

    def __init__(self) -> None:
        self._files: dict[str, int] = {}

    def read(self, shard: str | Path, offset: int, size: int) -> bytes:
        key = str(shard)
        fd = self._files.get(key)
        if fd is None:
            try:
                fd = os.open(key, os.O_RDONLY)
            except FileNotFoundError:
                raise CvopsError(f"shard {key} is missing (pull the dataset version's data first)") from None
            self._files[key] = fd
        data = os.pread(fd, size, offset)
        if len(data) != size:
            raise CvopsError(f"shard {key} is shorter than its index says ({offset} + {size} bytes)")
        return data

    def close(self) -> None:
        for fd in self._files.values():
            os.close(fd)
        self._files.clear()

    def __getstate__(self) -> dict[str, object]:
        return {}

    def __setstate__(self, state: dict[str, object]) -> None:
        self._files = {}

    def __del__(self) -> None:
        with contextlib.suppress(OSError, AttributeError):
            self.close()
