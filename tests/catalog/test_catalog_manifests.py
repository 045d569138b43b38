from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from cvops.catalog import TABLES, Catalog, Manifests
from cvops.errors import CvopsError
from cvops.home import init_home
from cvops.settings import CvopsPaths
from cvops_cli import main


def _labels(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "frame": range(1, n + 1),
            "track_id": 1,
            "role": "player",
            "x": 1.0,
            "y": 2.0,
            "w": 3.0,
            "h": 4.0,
            "is_keyframe": False,
        }
    )


def test_empty_tables_are_queryable_with_their_columns(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "c.duckdb", Manifests(tmp_path / "m"))
    assert catalog.refresh() is True
    assert catalog.refresh() is False  # nothing to rewrite the second time
    for name, spec in TABLES.items():
        result = catalog.query(f'SELECT * FROM "{name}"')
        assert result.empty and list(result.columns) == spec.columns


def test_partition_is_replaced_exactly_and_others_kept(tmp_path: Path) -> None:
    manifests = Manifests(tmp_path / "m")
    catalog = Catalog(tmp_path / "c.duckdb", manifests)
    manifests.write("raw_labels", _labels(5), "a")
    manifests.write("raw_labels", _labels(3), "b")
    manifests.write("raw_labels", _labels(2), "a")
    counts = catalog.query("SELECT match_id, count(*) AS n FROM raw_labels GROUP BY 1 ORDER BY 1")
    assert counts.to_dict("records") == [{"match_id": "a", "n": 2}, {"match_id": "b", "n": 3}]
    assert manifests.match_ids("raw_labels") == ["a", "b"]
    assert not list((tmp_path / "m" / "raw_labels").rglob("*.tmp"))


def test_numeric_looking_match_ids_stay_text(tmp_path: Path) -> None:
    manifests = Manifests(tmp_path / "m")
    manifests.write("raw_labels", _labels(1), "0001")
    result = Catalog(tmp_path / "c.duckdb", manifests).query("SELECT match_id FROM raw_labels")
    assert result["match_id"].tolist() == ["0001"]


def test_bad_writes_are_refused_with_the_table_named(tmp_path: Path) -> None:
    manifests = Manifests(tmp_path / "m")
    with pytest.raises(CvopsError, match="manifest 'raw_labels': missing column"):
        manifests.write("raw_labels", _labels(1).drop(columns=["role"]), "a")
    with pytest.raises(CvopsError, match="rows of match"):
        manifests.write("raw_labels", _labels(1).assign(match_id="b"), "a")
    with pytest.raises(CvopsError, match="unknown manifest table"):
        manifests.write("nope", _labels(1), "a")
    with pytest.raises(Exception, match="invalid match id"):
        manifests.write("raw_labels", _labels(1), "../x")


def test_init_home_writes_instance_settings_once(cvops_home: Path) -> None:
    paths = init_home()
    settings = (paths.dagster_home / "dagster.yaml").read_text()
    assert "telemetry:\n  enabled: false" in settings and "run_monitoring:\n  enabled: true" in settings
    instance = dg.DagsterInstance.from_config(str(paths.dagster_home))  # Dagster accepts the settings
    assert instance.run_monitoring_enabled
    instance.dispose()
    (paths.dagster_home / "dagster.yaml").write_text("# edited by the user\n")
    init_home()
    assert (paths.dagster_home / "dagster.yaml").read_text() == "# edited by the user\n"
    assert paths.catalog.exists()


def test_sql_command_prints_rows_and_reports_errors(cvops_home: Path) -> None:
    Manifests(CvopsPaths.from_env().manifests).write("raw_labels", _labels(2), "m1")
    runner = CliRunner()
    result = runner.invoke(
        main, ["sql", "SELECT match_id, count(*) AS n FROM raw_labels GROUP BY 1", "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    assert result.output == "match_id,n\nm1,2\n"
    bad = runner.invoke(main, ["sql", "SELECT * FROM no_such_table"])
    assert bad.exit_code != 0 and "no_such_table" in bad.output


def test_upsert_replaces_rows_by_key_and_keeps_the_rest(tmp_path: Path) -> None:
    manifests = Manifests(tmp_path / "m")
    manifests.write("raw_labels", _labels(3), "a")
    manifests.upsert("raw_labels", _labels(2).assign(x=9.0), key=["frame", "track_id"], match_id="a")
    rows = manifests.read("raw_labels", "a").sort_values("frame")
    assert rows["x"].tolist() == [9.0, 9.0, 1.0]
    manifests.upsert("raw_labels", _labels(1), key=["frame", "track_id"], match_id="new")
    assert len(manifests.read("raw_labels", "new")) == 1


def test_a_table_written_before_a_column_was_added_gains_it_as_nulls(tmp_path: Path) -> None:
    manifests = Manifests(tmp_path / "m")
    before = pa.schema([field for field in TABLES["models"].schema if field.name != "parent_model"])
    older = pa.Table.from_pylist(
        [{"model_version": "m0001", "dataset_version": "dataset/v1", "stage": "production"}], schema=before
    )
    path = tmp_path / "m" / "models" / "data.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(older, path)

    rows = Catalog(tmp_path / "c.duckdb", manifests).query("SELECT model_version, stage, parent_model FROM models")

    assert rows.to_dict("records") == [{"model_version": "m0001", "stage": "production", "parent_model": None}]
