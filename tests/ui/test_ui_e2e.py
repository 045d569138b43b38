"""The UI end to end: ``dagster dev`` serves the cvops definitions, and through its GraphQL API (what the UI uses)
the lineage and checks are right and a backfill of match partitions runs to success under the daemon.

The backfill test drives the platform by hand, as an operator would from the UI: it stops the sensors (so that
no run but its own starts), adds the match partitions and launches a backfill of the per-match assets. It waits on
the real daemons, whose backfill loop ticks every 30 s, hence the generous bounds.
"""

from __future__ import annotations

from typing import Any

import pytest

from cvops.catalog import TABLES
from cvops_assets.automation import on_any_dep_update, once_per_match
from tests.ui.ui_graphql import ERROR_FIELDS, GraphQLClient, expect_type, wait_for
from tests.ui.ui_server import REPOSITORY_SELECTOR, DagsterUI

pytestmark = pytest.mark.slow

MATCH_PARTITIONS = "matches"
MATCH_ASSETS = [  # every table of match_pipeline's first three steps (its fourth, review_queue, needs videos)
    "matches",
    "raw_labels",
    "label_check_results",
    "match_predictions",
    "cleaned_tracks",
    "match_sync",
    "label_removals",
    "frame_agreement",
]
UPSTREAM = {  # each asset's dependencies that the UI must draw (more may be added)
    "raw_labels": {"label_store"},
    "match_predictions": {"raw_labels", "matches"},
    "cleaned_tracks": {"raw_labels", "match_predictions"},
    "match_selection": {"matches", "label_check_results"},
    "selected_frames": {"cleaned_tracks", "match_selection"},
}
RAW_LABEL_CHECKS = {"label_schema": True, "label_values": True, "label_distribution": False}  # name -> blocking
SENSORS = ["annotated_matches_sensor", "cvops_automation_sensor"]
BACKFILL_TIMEOUT_S = 240  # two backfill daemon ticks (30 s apart) around runs of 4 step processes each
BACKFILL_DONE = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
RUN_FAILED = {"FAILURE", "CANCELED"}

ASSET_GRAPH_QUERY = """
{ assetNodes { assetKey { path } dependencyKeys { path } isPartitioned partitionDefinition { name type }
    jobNames automationCondition { label }
    assetChecksOrError { __typename ... on AssetChecks { checks { name blocking } } } } }
"""
SENSORS_QUERY = """
query ($repository: RepositorySelector!) {
  sensorsOrError(repositorySelector: $repository) { __typename ... on Error { message }
    ... on Sensors { results { id name defaultStatus sensorState { status
        ticks(limit: 20) { status error { message } } } } } } }
"""
STOP_SENSOR = """
mutation ($id: String!) { stopSensor(id: $id) { __typename ... on Error { message }
    ... on StopSensorMutationResult { instigationState { status } } } }
"""
ADD_PARTITION = f"""
mutation ($repository: RepositorySelector!, $key: String!) {{
  addDynamicPartition(repositorySelector: $repository, partitionsDefName: "{MATCH_PARTITIONS}", partitionKey: $key)
  {{ {ERROR_FIELDS} }} }}
"""
LAUNCH_BACKFILL = f"""
mutation ($params: LaunchBackfillParams!) {{ launchPartitionBackfill(backfillParams: $params) {{
    {ERROR_FIELDS} ... on LaunchBackfillSuccess {{ backfillId }} }} }}
"""
BACKFILL_QUERY = f"""
query ($id: String!) {{ partitionBackfillOrError(backfillId: $id) {{ {ERROR_FIELDS}
    ... on PartitionBackfill {{ status error {{ message }}
        runs {{ runId status tags {{ key value }} }}
        assetBackfillData {{ assetBackfillStatuses {{ __typename ... on AssetPartitionsStatusCounts {{
            assetKey {{ path }} numPartitionsTargeted numPartitionsMaterialized numPartitionsFailed }} }} }} }} }} }}
"""
RUN_FAILURES_QUERY = """
query ($id: ID!) { runOrError(runId: $id) { ... on Run { eventConnection(limit: 1000) { events { __typename
    ... on ExecutionStepFailureEvent { stepKey error { message } } ... on RunFailureEvent { message } } } } } }
"""
MATERIALIZED_QUERY = """
query ($keys: [AssetKeyInput!], $partitions: [String!]) {
  assetNodes(assetKeys: $keys) { assetKey { path } partitionStats { numMaterialized numFailed }
    latestMaterializationByPartition(partitions: $partitions) { partition
        metadataEntries { label ... on IntMetadataEntry { intValue } } }
    assetChecksOrError { ... on AssetChecks { checks { name
        partitionStatuses { ... on AssetCheckDefaultPartitionStatuses { succeededPartitions failedPartitions } } } } } }
  runsOrError { ... on Runs { count } } }
"""


def _key(node: dict[str, Any]) -> str:
    return "/".join(node["assetKey"]["path"])


def test_ui_shows_the_asset_lineage_partitions_and_label_checks(dagster_ui: DagsterUI) -> None:
    nodes = {_key(n): n for n in dagster_ui.client.execute(ASSET_GRAPH_QUERY)["assetNodes"]}
    assert set(UPSTREAM) <= set(nodes), f"assets missing from the UI: {sorted(set(UPSTREAM) - set(nodes))}"
    assert set(TABLES) <= set(nodes), f"catalog tables missing from the lineage: {sorted(set(TABLES) - set(nodes))}"

    for key, upstream in UPSTREAM.items():
        drawn = {"/".join(d["path"]) for d in nodes[key]["dependencyKeys"]}
        assert upstream <= drawn, f"{key} should depend on {sorted(upstream)}, the UI shows {sorted(drawn)}"

    for key in [*MATCH_ASSETS, "selected_frames"]:
        assert nodes[key]["partitionDefinition"] == {"name": MATCH_PARTITIONS, "type": "DYNAMIC"}, key
    assert not nodes["match_selection"]["isPartitioned"]  # one selection across all matches
    for key in MATCH_ASSETS:
        assert "match_pipeline" in nodes[key]["jobNames"], key
    assert nodes["match_selection"]["automationCondition"]["label"] == on_any_dep_update.get_label()
    assert nodes["selected_frames"]["automationCondition"]["label"] == once_per_match.get_label()

    checks = expect_type(nodes["raw_labels"]["assetChecksOrError"], "AssetChecks")["checks"]
    listed = {c["name"]: c["blocking"] for c in checks}
    assert listed.items() >= RAW_LABEL_CHECKS.items(), f"checks listed on raw_labels: {listed}"


# On Postgres only: the production instance, where the daemon's queue and run monitoring matter; the other tests
# of this module run on both instances (a backfill is the suite's longest test, 1.5 min).
@pytest.mark.parametrize("dagster_ui", ["postgres"], indirect=True)
def test_backfill_of_match_partitions_launched_through_graphql_succeeds(dagster_ui: DagsterUI) -> None:
    """Changes the server's state: stops the sensors, adds the match partitions, runs the per-match chain."""
    client, match_ids = dagster_ui.client, dagster_ui.match_ids

    _stop_sensors_running_by_default(client)
    dagster_ui.publish_label_store()
    for match_id in match_ids:
        result = client.execute(ADD_PARTITION, {"repository": REPOSITORY_SELECTOR, "key": match_id})
        expect_type(result["addDynamicPartition"], "AddDynamicPartitionSuccess")

    params = {
        "partitionNames": match_ids,
        "assetSelection": [{"path": [key]} for key in MATCH_ASSETS],
        "title": "UI end-to-end test",
    }
    launched = client.execute(LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
    backfill_id = expect_type(launched, "LaunchBackfillSuccess")["backfillId"]
    backfill = _wait_for_backfill(client, backfill_id)

    assert backfill["status"] == "COMPLETED_SUCCESS", backfill
    runs = backfill["runs"]
    assert sorted(_tag(run, "dagster/partition") for run in runs) == sorted(match_ids)  # one run per match
    assert {run["status"] for run in runs} == {"SUCCESS"}, runs
    for counts in backfill["assetBackfillData"]["assetBackfillStatuses"]:
        assert counts["numPartitionsTargeted"] == counts["numPartitionsMaterialized"] == len(match_ids), counts
        assert counts["numPartitionsFailed"] == 0, counts

    answer = client.execute(
        MATERIALIZED_QUERY, {"keys": [{"path": [key]} for key in MATCH_ASSETS], "partitions": match_ids}
    )
    nodes = {_key(n): n for n in answer["assetNodes"]}
    for key in MATCH_ASSETS:
        assert nodes[key]["partitionStats"] == {"numMaterialized": len(match_ids), "numFailed": 0}, key
    latest = nodes["raw_labels"]["latestMaterializationByPartition"]  # one per partition asked, in order
    assert [event and event["partition"] for event in latest] == match_ids, latest
    for event in latest:
        row_counts = [e["intValue"] for e in event["metadataEntries"] if e["label"] == "dagster/row_count"]
        assert row_counts and row_counts[0] > 0, f"raw_labels of {event['partition']}: no label rows"
    checks = {c["name"]: c["partitionStatuses"] for c in nodes["raw_labels"]["assetChecksOrError"]["checks"]}
    assert set(RAW_LABEL_CHECKS) <= set(checks), f"checks on raw_labels: {sorted(checks)}"
    for name, statuses in checks.items():  # every check ran on every match, and passed on these clean matches
        assert sorted(statuses["succeededPartitions"]) == sorted(match_ids), (name, statuses)
    # With the sensors stopped, the backfill's runs are the only ones: nothing raced it.
    assert answer["runsOrError"]["count"] == len(runs)


def _stop_sensors_running_by_default(client: GraphQLClient) -> None:
    """Check that the sensors are listed and running by default, that no tick failed, then stop them and wait
    for any tick in flight to end (a tick that started before the stop could still request runs)."""

    def sensors() -> dict[str, dict[str, Any]]:
        answer = client.execute(SENSORS_QUERY, {"repository": REPOSITORY_SELECTOR})["sensorsOrError"]
        return {s["name"]: s for s in expect_type(answer, "Sensors")["results"]}

    listed = sensors()
    assert set(SENSORS) <= set(listed), f"sensors listed: {sorted(listed)}"
    for name in SENSORS:
        assert listed[name]["defaultStatus"] == "RUNNING", name
        assert listed[name]["sensorState"]["status"] == "RUNNING", name
        result = client.execute(STOP_SENSOR, {"id": listed[name]["id"]})["stopSensor"]
        assert expect_type(result, "StopSensorMutationResult")["instigationState"]["status"] == "STOPPED", name

    def ticks_settled() -> dict[str, dict[str, Any]] | None:
        now = sensors()
        in_flight = [n for n in SENSORS if any(t["status"] == "STARTED" for t in now[n]["sensorState"]["ticks"])]
        return None if in_flight else now

    settled = wait_for(ticks_settled, timeout_s=60, interval_s=1.0, what="the sensors' ticks in flight to end")
    for name in SENSORS:
        failed = [t["error"] for t in settled[name]["sensorState"]["ticks"] if t["status"] == "FAILURE"]
        assert not failed, f"{name} ticks failed: {failed}"


def _wait_for_backfill(client: GraphQLClient, backfill_id: str) -> dict[str, Any]:
    """Poll the backfill until it is done; fail at once, with the step errors, when one of its runs fails."""
    last: dict[str, Any] = {}

    def done() -> dict[str, Any] | None:
        answer = client.execute(BACKFILL_QUERY, {"id": backfill_id})["partitionBackfillOrError"]
        last.update(expect_type(answer, "PartitionBackfill"))
        failed = [run for run in last["runs"] if run["status"] in RUN_FAILED]
        if failed:
            raise AssertionError(f"backfill {backfill_id}: runs failed: {_run_failures(client, failed)}")
        return dict(last) if last["status"] in BACKFILL_DONE else None

    return wait_for(
        done,
        timeout_s=BACKFILL_TIMEOUT_S,
        interval_s=2.0,
        what=f"backfill {backfill_id}",
        last_state=lambda: f"{last.get('status')}, runs {[(r['runId'], r['status']) for r in last.get('runs', [])]}",
    )


def _run_failures(client: GraphQLClient, runs: list[dict[str, Any]]) -> dict[str, list[str]]:
    failures = {}
    for run in runs:
        events = client.execute(RUN_FAILURES_QUERY, {"id": run["runId"]})["runOrError"]["eventConnection"]["events"]
        failures[f"{run['runId']} ({_tag(run, 'dagster/partition')})"] = [
            f"{e['stepKey']}: {(e['error'] or {}).get('message')}" if "stepKey" in e else e["message"]
            for e in events
            if e["__typename"] in ("ExecutionStepFailureEvent", "RunFailureEvent")
        ]
    return failures


def _tag(run: dict[str, Any], key: str) -> str | None:
    return next((t["value"] for t in run["tags"] if t["key"] == key), None)
