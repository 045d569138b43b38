"""New matches flow through sensor and automation conditions; existing match partitions never re-run."""

from pathlib import Path

import dagster as dg
import pytest

from cvops.catalog import Catalog, Manifests
from cvops.synth import SynthConfig, generate_store
from cvops_assets.definitions import defs
from cvops_assets.demo import DaemonStandIn

pytestmark = pytest.mark.slow

SMALL = {"seconds": 6.0, "width": 320, "height": 180, "seed": 3}
DATASET_KEYS = [dg.AssetKey("dataset_export_preview"), dg.AssetKey("dataset_version")]


def _materialized_partitions(instance: dg.DagsterInstance, key: str) -> list[str]:
    records = instance.fetch_materializations(dg.AssetKey(key), limit=1000).records
    return sorted(r.asset_materialization.partition or "" for r in records)


def test_only_new_match_partitions_run_when_matches_arrive(cvops_home: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    generate_store(store, SynthConfig(n_matches=3, **SMALL))
    messages: list[str] = []
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        daemon = DaemonStandIn(defs, instance, messages.append)
        daemon.run_until_idle()
        assert daemon.materialize(DATASET_KEYS).success
        first = {
            key: _materialized_partitions(instance, key)
            for key in ("raw_labels", "cleaned_tracks", "selected_frames", "frame_samples")
        }
        assert first["selected_frames"] == ["m0000", "m0001", "m0002"]
        assert len(_materialized_partitions(instance, "match_selection")) == 1

        generate_store(store, SynthConfig(n_matches=1, first_match_index=3, **SMALL))
        daemon.run_until_idle()
        second_export = daemon.materialize(DATASET_KEYS)
        assert second_export.success
        for key, before in first.items():
            # Each existing match was materialised exactly once; the new one once more.
            assert _materialized_partitions(instance, key) == sorted([*before, "m0003"]), key
        assert len(_materialized_partitions(instance, "match_selection")) == 2

        daemon.run_until_idle()  # nothing left to do: no run at all
        assert len(_materialized_partitions(instance, "match_selection")) == 2

    catalog = Catalog(cvops_home / "catalog.duckdb", Manifests(cvops_home / "manifests"))
    splits = catalog.query("SELECT match_id, split FROM match_selection ORDER BY 1")
    assert splits["match_id"].tolist() == ["m0000", "m0001", "m0002", "m0003"]
    assert set(splits["split"]) <= {"train", "val", "excluded"}
    selected = catalog.query("SELECT match_id, count(*) AS n FROM selected_frames GROUP BY 1 ORDER BY 1")
    exported = set(splits.loc[splits["split"] != "excluded", "match_id"])
    assert set(selected["match_id"]) == exported
    sync = catalog.query('SELECT match_id, "offset" FROM match_sync ORDER BY 1')
    truth = (store / "_truth" / "matches.csv").read_text().splitlines()[1:]
    true_offsets = {line.split(",")[0]: int(line.split(",")[1]) for line in truth}
    # Exactness is the cleaning quality test's job (20-second matches); on these 6-second clips the cleaning may
    # decline to shift, but an offset it applies is never wrong.
    for match_id, offset in zip(sync["match_id"], sync["offset"], strict=True):
        assert offset in (0, true_offsets[match_id]), match_id

    # Dataset v2 holds v1's samples plus the new match's; only those were new to the remote.
    versions = catalog.query("SELECT version, n_samples, bytes_new FROM dataset_versions ORDER BY version")
    assert versions["version"].tolist() == [1, 2]
    samples = catalog.query("SELECT version, match_id, frame, md5 FROM dataset_samples")
    v1 = set(map(tuple, samples[samples.version == 1][["match_id", "frame", "md5"]].to_numpy()))
    v2 = set(map(tuple, samples[samples.version == 2][["match_id", "frame", "md5"]].to_numpy()))
    assert v1 < v2 and {m for m, _, _ in v2 - v1} <= {"m0003"}
    new_bytes = catalog.query(
        "SELECT sum(bytes) AS b FROM frame_samples WHERE match_id = 'm0003' AND frame IN "
        "(SELECT frame FROM dataset_samples WHERE version = 2 AND match_id = 'm0003')"
    )["b"].iloc[0]
    assert versions["bytes_new"].iloc[1] == (new_bytes or 0)
