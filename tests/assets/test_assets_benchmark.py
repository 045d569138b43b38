"""Training, the benchmark and promotion end to end: each (model, sample) pair is evaluated exactly once."""

from pathlib import Path

import dagster as dg
import pytest

from cvops.catalog import Catalog, Manifests
from cvops.synth import SynthConfig, generate_store
from cvops_assets.definitions import defs
from cvops_assets.demo import DaemonStandIn
from cvops_resources import ModelRegistryResource

pytestmark = pytest.mark.slow

SMALL = {"seconds": 6.0, "width": 320, "height": 180, "seed": 5}
# Two epochs on a few 6-second clips learn little: the AP50 floor is off here (tests/model/test_model_release.py
# tests the gate).
TRAINING = {"epochs": 1, "release": {"min_player_ap50": 0.0}}


def _pairs(instance: dg.DagsterInstance) -> list[str]:
    records = instance.fetch_materializations(dg.AssetKey("benchmark_results"), limit=1000).records
    return sorted(r.asset_materialization.partition for r in records)


def test_models_are_benchmarked_once_per_sample_and_promoted(cvops_home: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    generate_store(store, SynthConfig(n_matches=4, **SMALL))
    catalog = Catalog(cvops_home / "catalog.duckdb", Manifests(cvops_home / "manifests"))
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        daemon = DaemonStandIn(defs, instance, print)
        daemon.run_until_idle()
        first = daemon.retrain(TRAINING)
        assert first.success
        (trained,) = first.asset_materializations_for_node("trained_model")
        assert trained.metadata["model_version"].value == "m0001"
        assert trained.metadata["parent_model"].value == "none (from scratch)"
        assert trained.metadata["epochs_completed"].value == 1
        assert trained.metadata["torch_threads"].value >= 1
        assert trained.metadata["torchscript_max_abs_diff"].value < 1e-4
        assert trained.metadata["dataset_version"].value == "dataset/v1"
        assert trained.metadata["val_matches"].value >= 1
        assert 0.0 <= trained.metadata["val_idf1"].value <= 1.0 and trained.metadata["val_mota"].value <= 1.0
        # The model's operating point is in its card, and the benchmark tracks at it.
        card = ModelRegistryResource().get_registry().get("m0001").card
        threshold = card.metrics["track_score_threshold"]
        assert 0.0 < threshold <= 1.0 and trained.metadata["track_score_threshold"].value == threshold
        daemon.run_until_idle()
        pair = instance.get_latest_materialization_event(dg.AssetKey("benchmark_results")).asset_materialization
        assert pair.metadata["track_score_threshold"].value == threshold

        samples = catalog.query("SELECT match_id FROM benchmark_samples WHERE match_id IS NOT NULL")["match_id"]
        assert len(samples) >= 1
        assert _pairs(instance) == sorted(f"{s}|m0001" for s in samples)
        models = catalog.query("SELECT model_version, stage FROM models")
        assert models.to_dict("records") == [{"model_version": "m0001", "stage": "production"}]

        second = daemon.retrain(TRAINING)
        assert second.success
        (retrained,) = second.asset_materializations_for_node("trained_model")
        assert retrained.metadata["parent_model"].value == "m0001", "retraining starts from the production model"
        daemon.run_until_idle()
        # The new model ran on every sample; the old model's pairs were not run again.
        assert _pairs(instance) == sorted([f"{s}|m0001" for s in samples] + [f"{s}|m0002" for s in samples])
        stages = dict(catalog.query("SELECT model_version, stage FROM models").to_numpy())
        assert stages["m0002"] in ("production", "candidate")
        registry = ModelRegistryResource().get_registry()
        decisions = [e for e in registry.audit_log() if e["version"] == "m0002" and e["action"] != "register"]
        assert decisions and decisions[-1]["action"] in ("promote", "reject") and decisions[-1]["reason"]

        daemon.run_until_idle()  # nothing is evaluated again
        assert len(_pairs(instance)) == 2 * len(samples)

        # A training stopped by its safety limit fails its run with the reason; the registry is unchanged.
        before = registry.audit_log()
        cut = daemon.retrain({"epochs": 50, "max_minutes": 1e-4})
        assert not cut.success
        (failure,) = [e for e in cut.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
        message = failure.step_failure_data.user_failure_data.description
        assert "not registered: it completed 0 of 50 required epochs" in message and "images/s" in message
        assert registry.audit_log() == before

    results = catalog.query("SELECT model_version, match_id, hota, idf1, num_gt_dets FROM benchmark_results")
    assert len(results) == 2 * len(samples) and (results["num_gt_dets"] > 0).all()
