"""``cvops synth OUT``: write a synthetic label store (videos, keyframes, detections and the truth)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import click

from cvops.errors import CvopsError


class FpsParam(click.ParamType):
    """A frame rate as ``25``, ``29.97`` or ``30000/1001``."""

    name = "fps"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> Fraction:
        if isinstance(value, Fraction):
            return value
        from cvops.synth.config import parse_fps

        try:
            return parse_fps(str(value))
        except CvopsError as exc:
            self.fail(str(exc), param, ctx)


@click.command("synth")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--matches", "n_matches", type=click.IntRange(min=1), default=6, show_default=True, help="Matches to write."
)
@click.option(
    "--seconds",
    type=click.FloatRange(min=0, min_open=True),
    default=20.0,
    show_default=True,
    help="Length of each match.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same store.")
@click.option("--width", type=int, default=640, show_default=True)
@click.option("--height", type=int, default=360, show_default=True)
@click.option("--fps", type=FpsParam(), default="25", show_default=True, help="Frame rate, e.g. 25 or 30000/1001.")
@click.option("--gop", type=click.IntRange(min=1), default=50, show_default=True, help="Keyframe interval in frames.")
@click.option("--hls", is_flag=True, help="Also write an HLS copy and point matches.csv at its playlist.")
@click.option("--hls-segment-seconds", type=click.FloatRange(min=0, min_open=True), default=2.0, show_default=True)
@click.option(
    "--first-index",
    "first_match_index",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Index of the first match: append m0006.. to an existing store with 6.",
)
@click.option(
    "--record-exits",
    is_flag=True,
    help="Record each player's exit with an outside keyframe (label store schema 2), so the labels have no "
    "ghosts; by default exits are not recorded, as by a product without them.",
)
@click.option(
    "--camera",
    type=click.Choice(["static", "broadcast"]),
    default="static",
    show_default=True,
    help="static: one wide view of the whole pitch; broadcast: a main camera that pans and zooms after the ball.",
)
@click.option(
    "--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Matches rendered in parallel."
)
def synth(out: Path, workers: int, **options: object) -> None:
    """Write synthetic football matches with realistic label defects into the label store OUT.

    Labels have ghost boxes and some matches are out of sync; OUT/_truth holds the true boxes, offsets and ghost
    rows so later stages can be scored.
    """
    from cvops.synth import SynthConfig, generate_store

    config = SynthConfig(**options)  # type: ignore[arg-type]
    ids = generate_store(out, config, workers=workers, progress=lambda mid: click.echo(f"wrote {mid}", err=True))
    click.echo(f"{len(ids)} matches in {out}: {', '.join(ids)}")
