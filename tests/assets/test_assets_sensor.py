"""annotated_matches_sensor: partitions and runs for newly annotated matches, once each; a review run for
matches awaiting annotation, and their chain once they are annotated."""

import json
import logging
from pathlib import Path

import dagster as dg

from cvops_assets import sensors
from cvops_assets.sensors import annotated_matches_sensor
from cvops_resources import LabelStoreResource
from tests.factories import match_row, write_store


def _tick(instance: dg.DagsterInstance, store: Path, cursor: str | None):
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"label_store": LabelStoreResource(root=str(store))}
    )
    result = annotated_matches_sensor(context)
    if isinstance(result, dg.SensorResult):
        for request in result.dynamic_partitions_requests or []:
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result, context


def test_new_matches_are_added_once_oldest_first(small_store: Path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    result, _ = _tick(instance, small_store, None)
    # Annotated matches come oldest annotation first; m0004, in progress, gets its review queue.
    requests = [(r.partition_key, r.job_name) for r in result.run_requests]
    assert requests == [
        ("m0002", "match_pipeline"),
        ("m0003", "match_pipeline"),
        ("m0001", "match_pipeline"),
        ("m0004", "review_pipeline"),
    ]
    assert sorted(instance.get_dynamic_partitions("matches")) == ["m0001", "m0002", "m0003", "m0004"]

    again, _ = _tick(instance, small_store, result.cursor)
    assert isinstance(again, dg.SkipReason) and "not changed" in again.skip_message

    # Even without a cursor (say, the sensor was reset), known matches are never requested again.
    fresh, _ = _tick(instance, small_store, None)
    assert fresh.run_requests == [] and "no newly annotated" in fresh.skip_reason.skip_message


def test_cursor_advances_when_a_match_is_annotated(small_store: Path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    first, _ = _tick(instance, small_store, None)
    matches = (small_store / "matches.csv").read_text().replace("in_progress", "annotated")
    (small_store / "matches.csv").write_text(matches)
    second, _ = _tick(instance, small_store, first.cursor)
    assert [(r.partition_key, r.job_name, r.run_key) for r in second.run_requests] == [
        ("m0004", "match_pipeline", "match:m0004")
    ]
    assert json.loads(first.cursor)["awaiting"] == ["m0004"] and json.loads(second.cursor)["awaiting"] == []
    assert json.loads(second.cursor)["fingerprint"] != json.loads(first.cursor)["fingerprint"]


def test_bad_rows_are_skipped_with_a_logged_reason(tmp_path: Path) -> None:
    store = write_store(tmp_path, [match_row("ok"), match_row("broken", n_frames="lots"), match_row("bad id!")], {})
    context = dg.build_sensor_context(
        instance=dg.DagsterInstance.ephemeral(),
        resources={"label_store": LabelStoreResource(root=str(store))},
    )
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    context.log.addHandler(handler)
    result = annotated_matches_sensor(context)
    assert [r.partition_key for r in result.run_requests] == ["ok"]
    logged = "\n".join(r.getMessage() for r in records)
    assert "row 3, field 'n_frames'" in logged and "row 4, field 'match_id'" in logged


def test_matches_per_tick_are_capped(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(sensors, "MAX_NEW_MATCHES_PER_TICK", 2)
    store = write_store(tmp_path, [match_row(f"m{i}") for i in range(5)], {})
    instance = dg.DagsterInstance.ephemeral()
    cursor = None
    batches = []
    for _ in range(4):
        result, _ = _tick(instance, store, cursor)
        cursor = result.cursor if not isinstance(result, dg.SkipReason) else cursor
        batches.append([r.partition_key for r in getattr(result, "run_requests", None) or []])
    assert batches == [["m0", "m1"], ["m2", "m3"], ["m4"], []]


def test_missing_store_is_a_skip(tmp_path: Path) -> None:
    result, _ = _tick(dg.DagsterInstance.ephemeral(), tmp_path / "nowhere", None)
    assert isinstance(result, dg.SkipReason) and "does not exist" in result.skip_message
