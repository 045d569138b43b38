"""match_predictions, cleaned_tracks, match_selection and selected_frames on hand-made matches."""

from pathlib import Path

import dagster as dg
import pytest

from cvops.catalog import Manifests
from cvops_assets.definitions import defs
from tests.factories import match_row, player_keyframes, write_store

CHAIN = ["raw_labels", "match_predictions", "cleaned_tracks"]


def _run(instance: dg.DagsterInstance, keys: list[str], partition: str | None, **kwargs):
    """Materialise ``keys`` and the tables their steps write with them."""
    selection = dg.AssetSelection.assets(*keys).required_multi_asset_neighbors()
    asset_keys = list(selection.resolve(defs.resolve_asset_graph()))
    job = defs.resolve_implicit_job_def_def_for_assets(asset_keys)
    return job.execute_in_process(instance=instance, asset_selection=asset_keys, partition_key=partition, **kwargs)


def _materializations(result: dg.ExecuteInProcessResult, key: str) -> list[dg.AssetMaterialization]:
    """The materializations of asset ``key`` in a run (a step may write several assets)."""
    return [m for m in result.asset_materializations_for_node("clean_labels") if m.asset_key == dg.AssetKey(key)]


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def test_match_without_predictions_is_cleaned_without_model_evidence(small_store: Path, cvops_home: Path, instance):
    instance.add_dynamic_partitions("matches", ["m0001"])
    result = _run(instance, CHAIN, "m0001")
    (predictions,) = result.asset_materializations_for_node("match_predictions")
    assert predictions.metadata["source"].value == "none"
    assert "det.txt" in predictions.metadata["reason"].value
    (cleaned,) = _materializations(result, "cleaned_tracks")
    (sync,) = _materializations(result, "match_sync")
    assert sync.metadata["offset"].value == 0 and not sync.metadata["offset_applied"].value
    assert cleaned.metadata["rows_kept"].value == cleaned.metadata["rows_in"].value
    assert "no predictions" in cleaned.metadata["messages"].value.lower()
    tracks = Manifests(cvops_home / "manifests").read("cleaned_tracks", "m0001")
    assert len(tracks) == 12 * 50


def test_predictions_come_from_det_txt(small_store: Path, cvops_home: Path, instance):
    rows = [f"{f},-1,{20.0 * t + f},{100.0 + t},10,20,0.9,-1,-1,-1" for f in range(1, 51) for t in range(1, 13)]
    (small_store / "m0002" / "det.txt").write_text("\n".join(rows) + "\n")
    instance.add_dynamic_partitions("matches", ["m0002"])
    result = _run(instance, CHAIN, "m0002")
    (predictions,) = result.asset_materializations_for_node("match_predictions")
    assert predictions.metadata["source"].value == "det.txt" and predictions.metadata["predictions"].value == 600
    agreement = Manifests(cvops_home / "manifests").read("frame_agreement", "m0002")
    assert (agreement["n_matched"] == agreement["n_labels"]).all()


def test_selected_frames_waits_for_the_selection_and_excluded_matches_export_nothing(
    tmp_path: Path, cvops_home: Path, instance
):
    # Two matches of one group with a cap of one: the older goes to val, the other is excluded.
    matches = [match_row("old", annotated_at="2026-01-01T00:00:00Z"), match_row("new")]
    write_store(tmp_path / "store", matches, {m["match_id"]: player_keyframes(20) for m in matches})
    instance.add_dynamic_partitions("matches", ["old", "new"])
    for match_id in ("old", "new"):
        _run(instance, CHAIN, match_id)

    early = _run(instance, ["selected_frames"], "old", raise_on_error=False)
    assert not early.success  # the selection has not seen the match yet: the partition stays missing

    config = {"ops": {"match_selection": {"config": {"max_per_group": 1}}}}
    _run(instance, ["match_selection"], None, run_config=config)
    for match_id in ("old", "new"):
        _run(instance, ["selected_frames"], match_id)

    manifests = Manifests(cvops_home / "manifests")
    selection = manifests.read("match_selection").set_index("match_id")
    assert selection.loc["old", "split"] == "val" and selection.loc["new", "split"] == "excluded"
    assert len(manifests.read("selected_frames", "old")) == 2  # frames 1 and 26 (frame_step 25)
    assert manifests.read("selected_frames", "old")["split"].eq("val").all()
    assert manifests.read("selected_frames", "new").empty
    assert set(manifests.read("frame_exclusions", "new")["reason"]) == {"match_not_selected"}
