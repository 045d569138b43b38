"""Delivery to the product: the production pointer an application polls, and `cvops models pull`."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from cvops.model.export import load_torchscript
from cvops.model.release import ReleaseConfig, register_candidate
from cvops.model.toy_data import write_toy_dataset
from cvops.model.train import train
from cvops.registry import ModelRegistry, open_registry
from cvops_cli import main
from tests.model.test_model_train import TINY
from tests.registry.conftest import ModelFiles, make_card


def _check_pointer_follows_production(registry: ModelRegistry, model_files: ModelFiles) -> None:
    for tag in "ab":
        registry.register(*model_files(tag), make_card())
    assert registry.production_pointer() is None, "no pointer before the first promotion"
    registry.promote("m0001", "first")
    pointer = registry.production_pointer()
    assert pointer["model_version"] == "m0001" and pointer["reason"] == "first"
    assert pointer["sha256"]["torchscript"] == registry.get("m0001").torchscript_sha256
    assert pointer["files"]["torchscript"] == f"{registry.get('m0001').folder}/model.torchscript.pt"
    registry.promote("m0002", "better")
    assert registry.production_pointer()["model_version"] == "m0002"
    registry.rollback("regression")
    pointer = registry.production_pointer()
    assert (pointer["model_version"], pointer["reason"]) == ("m0001", "regression")
    assert pointer["audit_seq"] == len(registry.audit_log())


def test_the_production_pointer_moves_with_promotion_and_rollback(
    registry: ModelRegistry, model_files: ModelFiles
) -> None:
    _check_pointer_follows_production(registry, model_files)
    assert not list(registry.storage.root.glob(".production.json.*")), "written atomically, nothing left behind"


def test_the_production_pointer_on_s3(s3_bucket: str, model_files: ModelFiles, tmp_path: Path) -> None:
    registry = open_registry(f"s3://{s3_bucket}/models", cache_dir=tmp_path / "cache")
    _check_pointer_follows_production(registry, model_files)
    import boto3

    body = boto3.client("s3").get_object(Bucket=s3_bucket, Key="models/production.json")["Body"].read()
    assert json.loads(body)["model_version"] == "m0001"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    root = write_toy_dataset(tmp_path_factory.mktemp("toy") / "ds", frames_per_match=8, n_players=4)
    return train(root, replace(TINY, epochs=2), log=lambda _: None)


@pytest.mark.slow
def test_pull_writes_what_an_application_needs(cvops_home: Path, trained, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "app" / "model"
    nothing = runner.invoke(main, ["models", "pull", "production", "--out", str(out)])
    assert nothing.exit_code == 1 and "has no model in production yet" in nothing.output

    registry = open_registry(cvops_home / "models")
    register_candidate(trained, registry, dataset_version="dataset/v1", gate=ReleaseConfig(min_player_ap50=0.0))
    registry.promote("m0001", "first model")
    pulled = runner.invoke(main, ["models", "pull", "production", "--out", str(out)])
    assert pulled.exit_code == 0, pulled.output
    assert "m0001 (production) written to" in pulled.output and "sha256sum -c SHA256SUMS" in pulled.output

    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "SHA256SUMS",
        "card.json",
        "card.md",
        "manifest.json",
        "model.onnx",
        "model.torchscript.pt",
        "operating_point.json",
    ]
    sums = dict(line.split("  ")[::-1] for line in (out / "SHA256SUMS").read_text().splitlines())
    assert set(sums) == set(names) - {"SHA256SUMS"}
    for name, digest in sums.items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest, name
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model_version"] == "m0001" and manifest["onnx_parity_max_abs_diff"] <= 1e-4
    point = json.loads((out / "operating_point.json").read_text())
    assert point["track_score_threshold"] == registry.get("m0001").card.metrics["track_score_threshold"]
    assert point["tracker"]["match_across_classes"] is True

    # The ONNX file computes what the TorchScript file computes, re-ID vectors included, at any batch size.
    import onnxruntime

    session = onnxruntime.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    images = torch.rand(3, 3, 96, 160, generator=torch.Generator().manual_seed(1))
    heatmap, box, embedding = session.run(None, {"images": images.numpy()})
    scripted = load_torchscript(out / "model.torchscript.pt")
    with torch.no_grad():
        expected = scripted(images)
        cells = torch.arange(24 * 40).expand(3, -1)
        vectors = scripted.embed(expected["embedding_features"], cells)
    np.testing.assert_allclose(heatmap, expected["heatmap"].numpy(), atol=1e-4)
    np.testing.assert_allclose(box, expected["box"].numpy(), atol=1e-4)
    np.testing.assert_allclose(embedding.reshape(3, -1, 24 * 40).transpose(0, 2, 1), vectors.numpy(), atol=1e-4)

    # Pulling again replaces the folder as a whole; nothing is left beside it.
    (out / "stale.txt").write_text("from an older pull")
    assert runner.invoke(main, ["models", "pull", "m0001", "--out", str(out)]).exit_code == 0
    assert not (out / "stale.txt").exists()
    assert sorted(p.name for p in out.parent.iterdir()) == ["model"]
