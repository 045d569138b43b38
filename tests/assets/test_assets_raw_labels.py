"""raw_labels (with the matches row and the suites' outcomes written by the same step) and its Great Expectations
checks, materialised on an ephemeral instance."""

from pathlib import Path

import dagster as dg
import pytest

from cvops.catalog import Catalog, Manifests
from cvops_assets.labels import read_match_labels
from cvops_assets.partitions import matches_partitions
from cvops_checks.label_checks import label_checks
from cvops_resources import CatalogResource, LabelStoreResource
from tests.factories import match_row, player_keyframes, write_store


@dg.asset(partitions_def=matches_partitions, deps=["raw_labels"])
def downstream_of_labels() -> None:
    """Stands in for the cleaning stage: it must not run when a blocking check fails."""


def _materialize(store: Path, home: Path, match_id: str, *, raise_on_error: bool = True):
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("matches", [match_id])
    return dg.materialize(
        [read_match_labels, label_checks(matches_partitions), downstream_of_labels],
        partition_key=match_id,
        instance=instance,
        resources={
            "label_store": LabelStoreResource(root=str(store)),
            "catalog": CatalogResource(home=str(home)),
        },
        raise_on_error=raise_on_error,
    )


def _check_results(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_clean_match_materialises_and_passes_every_check(tmp_path: Path, cvops_home: Path) -> None:
    store = write_store(tmp_path / "store", [match_row("m1")], {"m1": player_keyframes(14)})
    result = _materialize(store, cvops_home, "m1")
    assert result.success
    checks = _check_results(result)
    assert {name: c.passed for name, c in checks.items()} == {
        "label_schema": True,
        "label_values": True,
        "label_distribution": True,
    }
    (materialization,) = [
        m for m in result.asset_materializations_for_node("read_match_labels") if m.asset_key.path == ["raw_labels"]
    ]
    metadata = materialization.metadata
    assert metadata["rows"].value == 14 * 50 and metadata["tracks"].value == 14 and metadata["keyframes"].value == 42
    assert metadata["players_per_frame_min"].value == 14
    assert result.asset_materializations_for_node("downstream_of_labels")

    catalog = Catalog(cvops_home / "catalog.duckdb", Manifests(cvops_home / "manifests"))
    counts = catalog.query("SELECT match_id, count(*) AS n FROM raw_labels GROUP BY ALL")
    assert counts.to_dict("records") == [{"match_id": "m1", "n": 700}]
    assert catalog.query("SELECT pitch FROM matches")["pitch"].tolist() == ["north"]
    stored = catalog.query('SELECT "check", bool_and(passed) AS ok FROM label_check_results GROUP BY ALL ORDER BY 1')
    assert stored.to_dict("records") == [
        {"check": "label_distribution", "ok": True},
        {"check": "label_schema", "ok": True},
        {"check": "label_values", "ok": True},
    ]


def test_corrupted_match_fails_blocking_check_and_downstream_does_not_run(tmp_path: Path, cvops_home: Path) -> None:
    keyframes = player_keyframes(14)
    keyframes[5]["x"] = 900.0  # far outside the 640-pixel-wide image
    store = write_store(tmp_path / "store", [match_row("bad")], {"bad": keyframes})
    result = _materialize(store, cvops_home, "bad", raise_on_error=False)

    checks = _check_results(result)
    assert checks["label_schema"].passed
    assert not checks["label_values"].passed and checks["label_values"].severity == dg.AssetCheckSeverity.ERROR
    report = checks["label_values"].metadata["report"].value
    assert "expect_column_values_to_be_between(right)" in report and "Offending rows" in report
    assert checks["label_values"].metadata["unexpected_rows"].value > 0
    assert not result.asset_materializations_for_node("downstream_of_labels")

    catalog = Catalog(cvops_home / "catalog.duckdb", Manifests(cvops_home / "manifests"))
    failed = catalog.query("SELECT expectation FROM label_check_results WHERE NOT passed ORDER BY 1")
    assert "expect_column_values_to_be_between(right)" in failed["expectation"].tolist()


def test_distribution_problems_only_warn(tmp_path: Path, cvops_home: Path) -> None:
    store = write_store(tmp_path / "store", [match_row("few")], {"few": player_keyframes(3)})
    result = _materialize(store, cvops_home, "few")
    checks = _check_results(result)
    assert checks["label_values"].passed
    assert not checks["label_distribution"].passed
    assert checks["label_distribution"].severity == dg.AssetCheckSeverity.WARN
    assert result.asset_materializations_for_node("downstream_of_labels")


def test_bad_keyframes_fail_the_asset_with_a_located_error(tmp_path: Path, cvops_home: Path) -> None:
    keyframes = player_keyframes(12)
    keyframes[2]["role"] = "coach"
    store = write_store(tmp_path / "store", [match_row("m1")], {"m1": keyframes})
    with pytest.raises(Exception, match=r"keyframes.csv, row 4, field 'role': unknown role 'coach'"):
        _materialize(store, cvops_home, "m1")
    assert not (cvops_home / "manifests" / "raw_labels" / "match_id=m1").exists()


def test_a_keyframe_past_the_match_fails_before_anything_is_written(tmp_path: Path, cvops_home: Path) -> None:
    """Frames are bounded by the match's n_frames before interpolation allocates anything (frame 2 000 000 000
    once asked for 15 GiB), and a refused match leaves no table half written."""
    keyframes = player_keyframes(12)
    keyframes[8]["frame"] = 2_000_000_000
    store = write_store(tmp_path / "store", [match_row("m1")], {"m1": keyframes})
    with pytest.raises(Exception, match=r"keyframes.csv, row 10, field 'frame': frame 2000000000 is past the end"):
        _materialize(store, cvops_home, "m1")
    for table in ("raw_labels", "matches"):
        assert not (cvops_home / "manifests" / table / "match_id=m1").exists()


def test_rematerialising_replaces_the_partition_exactly(tmp_path: Path, cvops_home: Path) -> None:
    store = write_store(tmp_path / "store", [match_row("m1")], {"m1": player_keyframes(14)})
    _materialize(store, cvops_home, "m1")
    write_store(store, [match_row("m1")], {"m1": player_keyframes(12)})
    _materialize(store, cvops_home, "m1")
    labels = Manifests(cvops_home / "manifests").read("raw_labels", "m1")
    assert labels["track_id"].nunique() == 12 and len(labels) == 600
