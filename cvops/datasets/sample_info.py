"""md5, size and pixel size of the sample images, remembered between exports.

Every export needs the md5 of every sample (the manifest records it) and its width and height (COCO needs them).
Reading 100k images for that on every export would cost what the per-match layout saves, so the facts are kept
per source file, keyed by the file's (size, mtime, inode) as DVC's own state database does: a file that has not
been touched since it was last read is not read again.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pyarrow as pa
from PIL import Image, UnidentifiedImageError

from cvops.errors import InputError
from cvops.io import write_parquet_atomic

STAT_COLUMNS = ("path", "size", "mtime_ns", "inode")
INFO_COLUMNS = (*STAT_COLUMNS, "md5", "width", "height")


def _stat(paths: Iterable[str]) -> pd.DataFrame:
    rows = []
    for path in paths:
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            raise InputError("sample image is missing", file=path, field="source_path") from None
        rows.append((path, stat.st_size, stat.st_mtime_ns, stat.st_ino))
    return pd.DataFrame(rows, columns=list(STAT_COLUMNS)).astype(
        {"size": "int64", "mtime_ns": "int64", "inode": "int64"}
    )


def _read(path: str) -> tuple[str, int, int]:
    """md5 and pixel size from one read of the file (PIL parses only the JPEG header of the bytes)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"not a readable image: {exc}", file=path, field="source_path") from None
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "JPEG":
                raise InputError(f"expected a JPEG image, found {image.format}", file=path, field="source_path")
            width, height = image.size
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(f"not a readable image: {exc}", file=path, field="source_path") from None
    return hashlib.md5(data).hexdigest(), width, height


def describe_images(paths: Iterable[str], cache_file: Path) -> pd.DataFrame:
    """One row per distinct path: path, md5, bytes, width, height; reads only files changed since last time."""
    stats = _stat(dict.fromkeys(paths))
    if cache_file.is_file():
        cached = pd.read_parquet(cache_file, columns=list(INFO_COLUMNS))
        merged = stats.merge(cached, on=list(STAT_COLUMNS), how="left")
    else:
        merged = stats.assign(md5=pd.Series(dtype="object"), width=pd.NA, height=pd.NA)
    stale = merged["md5"].isna().to_numpy()
    if stale.any():
        facts = [_read(path) for path in merged.loc[stale, "path"]]
        merged.loc[stale, ["md5", "width", "height"]] = pd.DataFrame(
            facts, columns=["md5", "width", "height"], index=merged.index[stale]
        )
    merged = merged.astype({"md5": "string", "width": "int64", "height": "int64"})
    if stale.any() or not cache_file.is_file():
        write_parquet_atomic(cache_file, pa.Table.from_pandas(merged[list(INFO_COLUMNS)], preserve_index=False))
    return merged.rename(columns={"size": "bytes"})[["path", "md5", "bytes", "width", "height"]]
