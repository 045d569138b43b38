"""``cvops frames``: extract exact frames of a video (mp4 or HLS; local, http(s) or s3) into a folder.

Frames go through the sample store under ``$CVOPS_HOME/samples`` (so a frame is never fetched twice) and are
copied to ``OUT/<frame:06d>.<ext>``. PNG, the default, is lossless: compare it with a decoder of your choice to
check exactness.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import click

METHODS = ("exact", "pyav-seek", "ffmpeg-seek", "ffmpeg-coarse")
"""``cvops.video.Method``'s values, spelled out so that ``--help`` needs no video import (a test keeps them equal)."""


def parse_frames(spec: str) -> Sequence[int]:
    """``"1,250,1000"`` or with ranges ``"1-10,250"`` -> the frames as ranges (``cvops.video.FrameRanges``), never
    expanded before the video's frame count has been checked."""
    from cvops.errors import InputError
    from cvops.video.frame_ranges import parse_frame_ranges

    try:
        return parse_frame_ranges(spec)
    except InputError as exc:
        raise click.BadParameter(exc.message) from None


@click.command("frames")
@click.argument("video")
@click.option("--frames", "frames_spec", required=True, help="Frame numbers (1-based), e.g. 1,250,1000 or 1-10.")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write <frame:06d>.<ext> files into (created if needed).",
)
@click.option("--format", "fmt", type=click.Choice(["png", "jpg"]), default="png", show_default=True)
@click.option("--quality", type=click.IntRange(1, 100), default=90, show_default=True, help="JPEG quality.")
@click.option("--workers", type=click.IntRange(1), default=None, help="Parallel decode tasks [CPU count].")
@click.option(
    "--method",
    type=click.Choice(METHODS),
    default=METHODS[0],
    show_default=True,
    help="How to read frames; only 'exact' is exact everywhere (the others are for comparison).",
)
@click.option("--no-cache", is_flag=True, help="Use a throw-away sample store instead of $CVOPS_HOME/samples.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def frames(
    video: str,
    frames_spec: str,
    out: Path,
    fmt: str,
    quality: int,
    workers: int | None,
    method: str,
    no_cache: bool,
    quiet: bool,
) -> None:
    """Write frames of VIDEO (a path, http(s):// or s3:// URL; mp4 or .m3u8) to OUT."""
    from tqdm import tqdm

    from cvops.io import write_bytes_atomic
    from cvops.video import ReaderSettings, SampleStore, extract_frames

    numbers = parse_frames(frames_spec)
    scratch = Path(tempfile.mkdtemp(prefix="cvops-frames-")) if no_cache else None
    store = SampleStore(scratch) if scratch is not None else SampleStore.default()
    try:
        with tqdm(total=len(numbers), unit="frame", disable=quiet, desc="frames") as bar:

            def progress(done: int, total: int) -> None:
                bar.update(done - bar.n)

            result = extract_frames(
                video,
                numbers,
                store,
                fmt=fmt,
                quality=quality,
                max_workers=workers,
                progress=progress,
                method=method,
                settings=ReaderSettings(),
            )
        for sample in result.samples:
            write_bytes_atomic(out / f"{sample.frame:06d}.{fmt}", sample.path.read_bytes())
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    stats = result.stats
    click.echo(
        f"wrote {len(result.samples)} frames to {out} ({stats.n_cached} from the sample store, "
        f"{stats.bytes_read_from_source / 1e6:.1f} MB read from the source in {stats.seconds:.1f} s)"
    )
