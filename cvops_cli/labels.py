"""``cvops import-mot``: public tracking datasets into a label store."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import click

from cvops_cli.synth import FpsParam


@click.command("import-mot")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("store", type=click.Path(file_okay=False, path_type=Path))
@click.option("--overwrite", is_flag=True, help="Replace matches that are already in the store.")
@click.option(
    "--fps", type=FpsParam(), help="Frame rate of image sequences without seqinfo.ini (CVAT's MOT 1.1 export)."
)
def import_mot(source: Path, store: Path, overwrite: bool, fps: Fraction | None) -> None:
    """Import MOT Challenge / SoccerNet-tracking sequences, or CVAT's MOT 1.1 export, from SOURCE into the label
    store STORE."""
    from cvops.labels.mot_import import import_mot as import_sequences

    written = import_sequences(source, store, overwrite=overwrite, fps=fps)
    click.echo(f"imported {len(written)} sequence(s) into {store}: {', '.join(written)}")
