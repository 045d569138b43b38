"""``cvops import-mot``: public tracking datasets into a label store."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("import-mot")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("store", type=click.Path(file_okay=False, path_type=Path))
@click.option("--overwrite", is_flag=True, help="Replace matches that are already in the store.")
def import_mot(source: Path, store: Path, overwrite: bool) -> None:
    """Import MOT Challenge / SoccerNet-tracking sequences from SOURCE into the label store STORE."""
    from cvops.labels.mot_import import import_mot as import_sequences

    written = import_sequences(source, store, overwrite=overwrite)
    click.echo(f"imported {len(written)} sequence(s) into {store}: {', '.join(written)}")
