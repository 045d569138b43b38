"""Sensors and the schedule: what starts runs without a person (the calculations live in the domain library).

* ``annotated_matches_sensor``: newly annotated matches become partitions and runs of their per-match chain;
  matches nobody has annotated yet become partitions and runs of their review queue (pseudo-labels).
* ``cvops_automation_sensor``: evaluates the assets' automation conditions (``cvops_assets/automation.py``).
* ``benchmark_sensor``: a run for every (model, benchmark sample) pair without a result.
* ``retrain_sensor``: a new dataset version and model once enough new samples are ready.
* ``monthly_retrain``: the same on a calendar, off by default.
"""

import hashlib
import json

import dagster as dg

from cvops.benchmark import current_generation, current_samples, missing_pairs
from cvops.datasets.candidates import dataset_candidates
from cvops.datasets.retrain import samples_fingerprint, samples_not_in_latest_version
from cvops_assets.datasets import CANDIDATE_TABLES
from cvops_assets.jobs import benchmark_job, match_pipeline_job, retrain_job, review_pipeline_job
from cvops_assets.partitions import matches_partitions, models_partitions
from cvops_resources import CatalogResource, LabelStoreResource, ModelRegistryResource, RetrainPolicyResource

MAX_NEW_MATCHES_PER_TICK = 50


@dg.sensor(
    jobs=[match_pipeline_job, review_pipeline_job],
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Adds each match of the label store as a `matches` partition: a newly annotated match gets a run "
    "of its chain (match_pipeline), a match nobody has annotated yet a run of its review queue and pseudo-labels "
    f"(review_pipeline), and the chain once it is annotated. At most {MAX_NEW_MATCHES_PER_TICK} matches per tick, "
    "oldest annotation first; bad rows are skipped and logged. Records that the label_store asset changed "
    "whenever matches.csv did.",
)
def annotated_matches_sensor(context: dg.SensorEvaluationContext, label_store: LabelStoreResource):
    # The cursor is a fingerprint of matches.csv, whether matches were left for a later tick, and the (few) known
    # matches still awaiting annotation: the set of matches already taken in is the partition set itself, so the
    # cursor stays small however many matches exist.
    store = label_store.get_store()
    if not store.matches_file.exists():
        return dg.SkipReason(f"no label store yet: {store.matches_file} does not exist")
    fingerprint = hashlib.sha256(store.matches_file.read_bytes()).hexdigest()[:16]
    cursor = json.loads(context.cursor) if context.cursor else {}
    if cursor.get("fingerprint") == fingerprint and not cursor.get("pending"):
        return dg.SkipReason("matches.csv has not changed since the last tick")

    table = store.read_matches()
    for error in table.errors:
        context.log.warning(f"skipping a row of the label store: {error}")
    known = set(context.instance.get_dynamic_partitions(matches_partitions.name))
    # Known matches that were awaiting annotation at the last tick (after a reset: those awaiting now).
    awaiting = set(cursor["awaiting"]) if "awaiting" in cursor else {m.match_id for m in table.awaiting_annotation()}
    awaiting &= known
    fresh = sorted(
        (m for m in table.annotated() if m.match_id not in known or m.match_id in awaiting),
        key=lambda m: (m.annotated_at, m.match_id),
    )
    unannotated = [m for m in table.awaiting_annotation() if m.match_id not in known]
    new = [(m.match_id, "match") for m in fresh] + [(m.match_id, "review") for m in unannotated]
    batch = new[:MAX_NEW_MATCHES_PER_TICK]
    pending = len(new) - len(batch)
    awaiting = (awaiting - {match_id for match_id, kind in batch if kind == "match"}) | {
        match_id for match_id, kind in batch if kind == "review"
    }
    # The label store is an external asset: Dagster learns that it changed from this sensor, as a materialization
    # recorded without a run (what the assets reading it wait for).
    changed = dg.AssetMaterialization(
        "label_store",
        metadata={
            "annotated_matches": len(table.annotated()),
            "awaiting_annotation": len(table.awaiting_annotation()),
            "rejected_rows": len(table.errors),
            "matches_csv_sha256": fingerprint,
        },
    )
    next_cursor = json.dumps({"fingerprint": fingerprint, "pending": pending, "awaiting": sorted(awaiting)})
    if not batch:
        return dg.SensorResult(skip_reason="no newly annotated matches", cursor=next_cursor, asset_events=[changed])
    if pending:
        context.log.info(f"{pending} more new matches left for the next ticks")
    jobs = {"match": match_pipeline_job.name, "review": review_pipeline_job.name}
    added = [match_id for match_id, _ in batch if match_id not in known]
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(run_key=f"{kind}:{match_id}", partition_key=match_id, job_name=jobs[kind])
            for match_id, kind in batch
        ],
        dynamic_partitions_requests=[matches_partitions.build_add_request(added)] if added else [],
        cursor=next_cursor,
        asset_events=[changed],
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


@dg.sensor(
    job=benchmark_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a benchmark run for every (model version, benchmark sample) pair of the current "
    "generation that has no result yet: a new model runs on every sample, a new sample with every model, and "
    "nothing computed is computed again.",
)
def benchmark_sensor(
    context: dg.SensorEvaluationContext, catalog: CatalogResource, model_registry: ModelRegistryResource
):
    tables = catalog.get_catalog()
    membership = tables.read("benchmark_samples")
    samples = current_samples(membership)
    models = [version.version for version in model_registry.get_registry().list()]
    if not samples or not models:
        return dg.SkipReason(f"{len(models)} models and {len(samples)} benchmark samples: nothing to evaluate")
    missing = missing_pairs(membership, tables.read("benchmark_results"), models)
    if not missing:
        return dg.SkipReason(f"every pair of {len(models)} models x {len(samples)} samples is evaluated")
    generation = current_generation(membership)
    new_models = sorted(set(models) - set(context.instance.get_dynamic_partitions(models_partitions.name)))
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                # Dagster never launches a run key twice for a sensor: a pair that failed is left for a person.
                run_key=f"benchmark:g{generation}:{model}:{match}",
                partition_key=dg.MultiPartitionKey({"model": model, "match": match}),
            )
            for model, match in missing
        ],
        dynamic_partitions_requests=[models_partitions.build_add_request(new_models)] if new_models else [],
    )


@dg.sensor(
    job=retrain_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a new dataset version and a retrained model when enough ready samples are not in the "
    "latest dataset version yet (RetrainPolicyResource.min_new_samples).",
)
def retrain_sensor(
    context: dg.SensorEvaluationContext, catalog: CatalogResource, retrain_policy: RetrainPolicyResource
):
    tables = catalog.get_catalog()
    candidates = dataset_candidates(*(tables.read(name) for name in CANDIDATE_TABLES)).samples
    new = samples_not_in_latest_version(candidates, tables.read("dataset_samples"))
    threshold = retrain_policy.get_policy().min_new_samples
    if len(new) < threshold:
        return dg.SkipReason(f"{len(new)} new samples since the latest dataset version; retraining needs {threshold}")
    return dg.RunRequest(run_key=f"retrain:{samples_fingerprint(new)}", tags={"cvops/new_samples": str(len(new))})


monthly_retrain_schedule = dg.ScheduleDefinition(
    name="monthly_retrain",
    job=retrain_job,
    cron_schedule="0 3 1 * *",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="A new dataset version and model on the first of each month at 03:00 (off by default: the "
    "retrain_sensor retrains when enough new samples exist).",
)
