"""``cvops evaluate``: score a MOT Challenge tracker file against ground truth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from cvops.metrics import ErrorWeights, SequenceMetrics

_ROWS = (
    ("HOTA", "hota", "percent"),
    ("DetA", "deta", "percent"),
    ("AssA", "assa", "percent"),
    ("MOTA", "mota", "percent"),
    ("MOTP (mean IoU)", "motp", "percent"),
    ("IDF1", "idf1", "percent"),
    ("ID switches", "id_switches", "count"),
    ("False positives", "fp", "count"),
    ("False negatives", "fn", "count"),
    ("GT boxes", "num_gt_dets", "count"),
    ("Tracker boxes", "num_tracker_dets", "count"),
    ("GT ids", "num_gt_ids", "count"),
    ("Tracker ids", "num_tracker_ids", "count"),
    ("Frames", "num_frames", "count"),
)


@click.command("evaluate")
@click.argument("gt", type=click.Path(exists=True, path_type=Path))
@click.argument("tracker", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option(
    "--eval-class",
    "eval_classes",
    type=int,
    multiple=True,
    help="Score only ground-truth boxes of this class (repeatable; default: every class).",
)
@click.option(
    "--distractor-class",
    "distractor_classes",
    type=int,
    multiple=True,
    help="Drop tracker boxes matched to ground truth of this class (repeatable; MOT17: 2, 7, 8, 12).",
)
@click.option(
    "--idsw-weight",
    type=float,
    default=None,
    help="Weight of an ID switch in the weighted error (FN and FP weigh 1) [default: the benchmark's, "
    "cvops.metrics.ErrorWeights].",
)
def evaluate(
    gt: Path,
    tracker: Path,
    as_json: bool,
    eval_classes: tuple[int, ...],
    distractor_classes: tuple[int, ...],
    idsw_weight: float | None,
) -> None:
    """Score TRACKER (a MOT tracker file) against GT (a MOT gt file, or a sequence folder with gt/gt.txt).

    Reports HOTA, DetA, AssA (averaged over IoU 0.05..0.95), MOTA, MOTP, IDF1, ID switches, FP and FN
    (matched at IoU 0.5) and the weighted error per ground-truth box. Ground-truth rows flagged 0 in
    column 7 are not scored.
    """
    from cvops.errors import InputError
    from cvops.metrics import ErrorWeights, evaluate_sequence, weighted_error
    from cvops.tracking import mot_gt_path, read_mot_gt, read_mot_tracker

    gt_file = mot_gt_path(gt)
    gt_table = read_mot_gt(gt_file)
    if (eval_classes or distractor_classes) and "cls" not in gt_table.columns:
        raise InputError("class options need a 9- or 10-column ground truth (with a class column)", file=gt_file)
    metrics = evaluate_sequence(
        gt_table,
        read_mot_tracker(tracker),
        eval_classes=set(eval_classes) if eval_classes else None,
        distractor_classes=set(distractor_classes),
    )
    weights = ErrorWeights() if idsw_weight is None else ErrorWeights(id_switches=idsw_weight)
    error = weighted_error(metrics, weights)
    if as_json:
        payload = {"gt": str(gt_file), "tracker": str(tracker), **metrics.as_dict(), "weighted_error": error}
        click.echo(json.dumps(payload, indent=2))
    else:
        click.echo(_table(gt_file, tracker, metrics, error, weights))


def _table(gt: Path, tracker: Path, metrics: SequenceMetrics, error: float, weights: ErrorWeights) -> str:
    values = metrics.as_dict()
    lines = [f"ground truth  {gt}", f"tracker       {tracker}", ""]
    for label, key, kind in _ROWS:
        value = values[key]
        text = f"{100 * value:8.2f} %" if kind == "percent" else f"{value:8d}"
        lines.append(f"{label:<18}{text}")
    weights_text = f"FN x{weights.fn:g} + FP x{weights.fp:g} + IDSW x{weights.id_switches:g}, per GT box"
    lines.append(f"{'Weighted error':<18}{error:8.4f}    ({weights_text})")
    return "\n".join(lines)
