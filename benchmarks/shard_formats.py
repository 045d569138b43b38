"""Shard formats for dataset versions, on this workload: tar shards + offset index against Parquet with image bytes.

For N sample JPEGs of one match it writes (1) a tar shard with cvops's writer (``cvops.datasets.shards``), its
index being the (offset, size) of each image, and (2) a Parquet file with the image bytes in a binary column
(row groups of ``--row-group`` rows, the usual way to get random access in Parquet), then reads ``--reads``
random samples from each: tar by one ``pread`` per sample, Parquet by reading the sample's row group and taking
its row. It also times what training does per image (``DetectionDataset.load_image``: read + JPEG decode) for
the same samples as plain files (the ``files`` layout) and in the shard (the ``shards`` layout), interleaved.

Usage::

    .venv/bin/python benchmarks/shard_formats.py --samples 5400 --size 640x360
    .venv/bin/python benchmarks/shard_formats.py --samples 200 --size 64x36 --reads 100   # tiny
"""

from __future__ import annotations

import argparse
import io
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from cvops.datasets.shards import ShardReader, write_shard


def make_images(folder: Path, count: int, size: tuple[int, int]) -> list[str]:
    """Smooth noise (compresses like a real frame far better than white noise) at ``size``, JPEG quality 90."""
    rng = np.random.default_rng(0)
    paths = []
    folder.mkdir(parents=True, exist_ok=True)
    base = rng.integers(0, 256, (size[1] // 8 + 1, size[0] // 8 + 1, 3), dtype=np.uint8)
    for index in range(count):
        small = np.roll(base, index, axis=1)
        image = Image.fromarray(small).resize(size, Image.BILINEAR)
        path = folder / f"{index + 1:06d}.jpg"
        image.save(path, quality=90)
        paths.append(str(path))
    return paths


def timed(function) -> tuple[float, object]:
    started = time.perf_counter()
    value = function()
    return time.perf_counter() - started, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=5400)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--row-group", type=int, default=64)
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    work = Path(tempfile.mkdtemp(prefix="shard-formats-"))
    try:
        sources = make_images(work / "sources", args.samples, size)
        frames = list(range(1, args.samples + 1))
        image_bytes = sum(Path(p).stat().st_size for p in sources)
        (work / "tar").mkdir()
        tar_s, shard = timed(lambda: write_shard(work / "tar", "m1", frames, sources))

        def write_parquet() -> Path:
            table = pa.table({"frame": frames, "image": [Path(p).read_bytes() for p in sources]})
            pq.write_table(table, work / "part.parquet", row_group_size=args.row_group, compression="none")
            return work / "part.parquet"

        parquet_s, parquet_path = timed(write_parquet)
        order = np.random.default_rng(1).integers(0, args.samples, args.reads)

        reader = ShardReader()
        tar_read_s, _ = timed(lambda: [reader.read(shard.path, shard.offsets[i], shard.sizes[i]) for i in order])
        parquet_file = pq.ParquetFile(parquet_path)

        def read_parquet() -> None:
            for index in order:
                group = parquet_file.read_row_group(int(index) // args.row_group, columns=["image"])
                group.column(0)[int(index) % args.row_group].as_py()

        parquet_read_s, _ = timed(read_parquet)

        def decode_files() -> None:
            for index in order:
                with Image.open(sources[index]) as image:
                    np.array(image.convert("RGB"))

        def decode_shard() -> None:
            for index in order:
                data = reader.read(shard.path, shard.offsets[index], shard.sizes[index])
                with Image.open(io.BytesIO(data)) as image:
                    np.array(image.convert("RGB"))

        files_decode = []
        shard_decode = []
        for _ in range(3):  # interleaved, so that the machine's load falls on both alike
            files_decode.append(timed(decode_files)[0])
            shard_decode.append(timed(decode_shard)[0])
        rows = [
            {"format": "tar shard + (offset, size) index", "write s": tar_s,
             "bytes / image bytes": shard.path.stat().st_size / image_bytes,
             "random reads / s": args.reads / tar_read_s,
             "train load (read + decode) img/s": args.reads / min(shard_decode)},
            {"format": f"Parquet, image bytes, row groups of {args.row_group}", "write s": parquet_s,
             "bytes / image bytes": parquet_path.stat().st_size / image_bytes,
             "random reads / s": args.reads / parquet_read_s, "train load (read + decode) img/s": float("nan")},
            {"format": "one file per sample (files layout)", "write s": float("nan"), "bytes / image bytes": 1.0,
             "random reads / s": float("nan"), "train load (read + decode) img/s": args.reads / min(files_decode)},
        ]  # fmt: skip
        print(f"{args.samples} images of {size[0]}x{size[1]}, {image_bytes / args.samples / 1024:.1f} KiB each")
        print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".3g"))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
