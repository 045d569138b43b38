"""Sensors: newly annotated matches become partitions and runs."""

import hashlib
import json

import dagster as dg

from cvops_assets.jobs import match_pipeline_job
from cvops_assets.partitions import matches_partitions
from cvops_resources import LabelStoreResource

MAX_NEW_MATCHES_PER_TICK = 50


@dg.sensor(
    job=match_pipeline_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Adds each newly annotated match of the label store as a `matches` partition and runs its chain. "
    f"At most {MAX_NEW_MATCHES_PER_TICK} matches per tick, oldest annotation first; bad rows are skipped and logged.",
)
def annotated_matches_sensor(context: dg.SensorEvaluationContext, label_store: LabelStoreResource):
    # The cursor is only a fingerprint of matches.csv and whether matches were left for a later tick: the set of
    # matches already taken in is the partition set itself, so the cursor stays small however many matches exist.
    matches_file = label_store.store().matches_file
    if not matches_file.exists():
        return dg.SkipReason(f"no label store yet: {matches_file} does not exist")
    fingerprint = hashlib.sha256(matches_file.read_bytes()).hexdigest()[:16]
    cursor = json.loads(context.cursor) if context.cursor else {}
    if cursor.get("fingerprint") == fingerprint and not cursor.get("pending"):
        return dg.SkipReason("matches.csv has not changed since the last tick")

    table = label_store.read_matches()
    for error in table.errors:
        context.log.warning(f"skipping a row of the label store: {error}")

    known = set(context.instance.get_dynamic_partitions(matches_partitions.name))
    new = sorted(
        (m for m in table.annotated() if m.match_id not in known),
        key=lambda m: (m.annotated_at, m.match_id),
    )
    batch = [m.match_id for m in new[:MAX_NEW_MATCHES_PER_TICK]]
    pending = len(new) - len(batch)
    next_cursor = json.dumps({"fingerprint": fingerprint, "pending": pending})
    if not batch:
        return dg.SensorResult(skip_reason="no newly annotated matches", cursor=next_cursor)
    if pending:
        context.log.info(f"{pending} more new matches left for the next ticks")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"match:{match_id}", partition_key=match_id) for match_id in batch],
        dynamic_partitions_requests=[matches_partitions.build_add_request(batch)],
        cursor=next_cursor,
    )


# Dagster's automation sensor starts stopped unless told otherwise; the chain after each match's own run
# (selection, frames, samples) depends on it, so it runs by default.
automation_sensor = dg.AutomationConditionSensorDefinition(
    "cvops_automation_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Evaluates the assets' automation conditions (cvops_assets/automation.py).",
)
