"""The learning curve: every model's error on the samples common to all, against its dataset's size."""

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from cvops.benchmark.leaderboard import per_sample
from cvops.benchmark.learning_curve import curve_markdown, learning_curve, plot_curve
from cvops.benchmark.membership import empty_membership, update_membership
from cvops.catalog import Manifests
from cvops.metrics import ErrorWeights
from cvops_cli import main
from tests.benchmark.test_benchmark_domain import _gt, _result

T0 = pd.Timestamp("2026-01-01", tz="UTC")
WEIGHTS = ErrorWeights(fn=1, fp=1, id_switches=5)


def _inputs() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    perfect = _gt().assign(conf=1.0)
    half = perfect[perfect["id"] == 1]
    results = pd.DataFrame(
        [
            _result("m0001", "s1", half),
            _result("m0001", "s2", half),
            _result("m0002", "s1", perfect),
            _result("m0002", "s2", half),
            _result("m0002", "s3", perfect),  # m0001 was not evaluated on s3: not a common sample
        ]
    ).assign(generation=1)
    models = pd.DataFrame(
        {
            "model_version": ["m0001", "m0002"],
            "dataset_version": ["dataset/v1", "dataset/v2"],
            "parent_model": pd.Series([None, "m0001"], dtype="string"),
            "stage": ["archived", "production"],
        }
    )
    dataset_samples = pd.DataFrame(
        {
            "version": [1, 1, 1, 2, 2, 2, 2, 2],
            "match_id": ["a", "a", "v", "a", "a", "b", "b", "v"],
            "frame": [1, 2, 1, 1, 2, 1, 2, 1],
            "split": ["train", "train", "val", "train", "train", "train", "train", "val"],
        }
    )
    return results, models, dataset_samples


def test_the_curve_compares_every_model_on_the_common_samples() -> None:
    results, models, dataset_samples = _inputs()
    curve = learning_curve(results, ["s1", "s2", "s3"], models, dataset_samples, weights=WEIGHTS)
    assert curve["model_version"].tolist() == ["m0001", "m0002"]
    assert curve["train_matches"].tolist() == [1, 2] and curve["train_images"].tolist() == [2, 4]
    assert curve["samples"].tolist() == [2, 2]
    assert curve["weighted_error"].tolist() == pytest.approx([0.5, 0.25])
    assert curve["parent_model"].isna().tolist() == [True, False] and curve["parent_model"].iloc[1] == "m0001"
    text = curve_markdown(curve)
    assert text.startswith("2 benchmark samples common to all models") and "| m0002 " in text and "scratch" in text
    table = per_sample(results, samples=["s1", "s2"], weights=WEIGHTS)
    assert table.loc[table["model_version"] == "m0002", "weighted_error"].tolist() == pytest.approx([0.0, 0.5])


def test_an_empty_benchmark_gives_an_empty_curve() -> None:
    results, models, dataset_samples = _inputs()
    curve = learning_curve(results.iloc[:0], [], models, dataset_samples)
    assert curve.empty and list(curve.columns)[-2:] == ["weighted_error", "hota"]
    assert curve_markdown(curve).startswith("No model")


def test_the_plot_is_a_png(tmp_path: Path) -> None:
    results, models, dataset_samples = _inputs()
    curve = learning_curve(results, ["s1", "s2"], models, dataset_samples)
    png = plot_curve(curve, tmp_path / "curve.png")
    assert png.startswith(b"\x89PNG") and (tmp_path / "curve.png").read_bytes() == png


def test_cvops_benchmark_curve_prints_the_curve(cvops_home: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    empty = runner.invoke(main, ["benchmark", "curve"])
    assert empty.exit_code == 0 and "no model has benchmark results yet" in empty.output

    results, models, dataset_samples = _inputs()
    manifests = Manifests(cvops_home / "manifests")
    manifests.write("benchmark_samples", update_membership(empty_membership(), ["s1", "s2", "s3"], now=T0))
    for match_id, rows in results.groupby("match_id"):
        full = rows.assign(
            hota=0.5,
            deta=0.5,
            assa=0.5,
            mota=0.5,
            idf1=0.5,
            id_switches=0,
            fp=0,
            fn=0,
            num_gt_dets=20,
            frames=10,
            evaluated_at=T0,
        )
        manifests.write("benchmark_results", full.drop(columns="match_id"), match_id)
    manifests.write("models", models.assign(created_at=T0, metrics="{}"))
    manifests.write("dataset_samples", dataset_samples.assign(md5="x", path="p"))
    shown = runner.invoke(main, ["benchmark", "curve", "--plot", str(tmp_path / "curve.png")])
    assert shown.exit_code == 0, shown.output
    assert "2 benchmark samples common to all models" in shown.output
    lines = {line.split()[0]: line for line in shown.output.splitlines() if line.startswith("m000")}
    assert "scratch" in lines["m0001"] and "0.5000" in lines["m0001"]
    assert "m0001" in lines["m0002"].split()[2] and "production" in lines["m0002"]
    assert (tmp_path / "curve.png").read_bytes().startswith(b"\x89PNG")
    as_csv = runner.invoke(main, ["benchmark", "curve", "--format", "csv"])
    assert as_csv.output.splitlines()[0].startswith("model_version,dataset_version,parent_model")
