"""``cvops import-cvat`` and ``cvops export-cvat``: the annotation loop with CVAT (docs/label-store.md, "CVAT")."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import click

from cvops_cli.synth import FpsParam


@click.command("import-cvat")
@click.argument("xml", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("store", type=click.Path(file_okay=False, path_type=Path))
@click.option("--match-id", required=True, help="The match the task annotates (added, or replaced with --replace).")
@click.option(
    "--video",
    help="The match's video (a path or URL), referenced from matches.csv; a local file gives the size, frame rate "
    "and length. Without it the match must be in the store already, and keeps its video.",
)
@click.option("--fps", type=FpsParam(), help="Frame rate of a remote video (checked against a local one).")
@click.option("--roles", "roles_text", help="CVAT label to role, e.g. 'Person=player,GK=goalkeeper'.")
@click.option(
    "--roles-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The same mapping in a file, one LABEL=ROLE per line (# comments).",
)
@click.option("--replace", is_flag=True, help="Replace the match if it is already in the store.")
def import_cvat(
    xml: Path,
    store: Path,
    match_id: str,
    video: str | None,
    fps: Fraction | None,
    roles_text: str | None,
    roles_file: Path | None,
    replace: bool,
) -> None:
    """Import one CVAT video task (a "CVAT for video 1.1" export: the zip or its annotations.xml) as match
    MATCH_ID of the label store STORE.

    Box tracks become keyframes (CVAT frame c is store frame c + 1), outside keyframes end a track's span,
    occluded is kept; tracks of other shapes are skipped and counted.
    """
    from cvops.labels.cvat_import import import_cvat as import_task
    from cvops.labels.cvat_import import parse_role_mapping
    from cvops.labels.store import validate_match_id

    roles = parse_role_mapping(roles_file.read_text(encoding="utf-8")) if roles_file else {}
    roles |= parse_role_mapping(roles_text or "")
    summary = import_task(
        xml, store, match_id=validate_match_id(match_id), video=video, fps=fps, roles=roles, replace=replace
    )
    for line in summary.lines():
        click.echo(line)
