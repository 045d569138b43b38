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


@click.command("export-cvat")
@click.argument("match_id")
@click.option(
    "--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="The task folder to write."
)
@click.option(
    "--from",
    "source",
    type=click.Choice(["labels", "predictions"]),
    default="labels",
    show_default=True,
    help="The label store's keyframes, or the production model's tracks as pseudo-labels.",
)
@click.option("--queue", "queue_only", is_flag=True, help="Only the frames of the match's review queue.")
def export_cvat(match_id: str, out: Path, source: str, queue_only: bool) -> None:
    """Write match MATCH_ID of the label store ($CVOPS_LABEL_STORE) as a CVAT task with pre-annotations:
    annotations.xml ("CVAT for video 1.1", to upload as "CVAT 1.1"), task.json and frames.csv (plus the images of
    the queued frames with --queue).

    From predictions, a match nobody has annotated gets the pseudo-labels in the label store too, with status
    pseudo_labelled: they never enter a dataset version until a person's annotation is imported.
    """
    from cvops.catalog import Catalog
    from cvops.labels import LabelStore
    from cvops.review.cvat_task import export_match
    from cvops.settings import CvopsPaths
    from cvops.video import ReaderSettings, SampleStore
    from cvops.video.extractor import FrameExtractor

    paths = CvopsPaths.from_env()
    extractor = FrameExtractor(SampleStore(paths.samples), ReaderSettings(), fmt="jpg") if queue_only else None
    result = export_match(
        match_id,
        out,
        source=source,
        queue_only=queue_only,
        store=LabelStore(paths.label_store),
        catalog=Catalog.at(paths),
        extractor=extractor,
    )
    task = result.task
    what = "review queue frames" if queue_only else "frames"
    marked = " (marked as pseudo-labels)" if task.pseudo_labels else ""
    click.echo(f"wrote {task.folder}: {task.frames} {what}, {task.tracks} tracks, {task.boxes} boxes{marked}")
    if result.offset:
        click.echo(f"labels moved by the match's sync offset ({result.offset:+d} frames) onto the video's frames")
    if result.store_note:
        click.echo(result.store_note)
