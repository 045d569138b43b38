"""Reading versions: training from shards in place, ``cvops dataset files``, and versions of the old layout."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from click.testing import CliRunner

from cvops.datasets import (
    DatasetRepo,
    checkout_version,
    export_dataset,
    list_versions,
    open_folder,
    open_version,
    verify_files,
    version_samples,
)
from cvops.datasets.files import write_version_files
from cvops.datasets.layout import md5_file
from cvops.model.data import DetectionDataset
from cvops_cli import main
from tests.datasets.dataset_helpers import EXPORT_ARGS, SampleFactory


def _same_items(first: DetectionDataset, second: DetectionDataset) -> None:
    assert len(first) == len(second) > 0
    for index in range(len(first)):
        image_a, targets_a = first[index]
        image_b, targets_b = second[index]
        torch.testing.assert_close(image_a, image_b)
        np.testing.assert_array_equal(targets_a.heatmap, targets_b.heatmap)


@pytest.mark.slow
def test_training_reads_shards_in_place_and_the_files_command_writes_the_same_data(
    dataset_repo: DatasetRepo, sample_factory: SampleFactory, tmp_path: Path
) -> None:
    samples, labels = sample_factory.frames({"m1": [1, 2, 3], "m2": [4, 5]}, val=["m2"])
    export_dataset(dataset_repo, samples, labels, **EXPORT_ARGS)
    checkout = checkout_version(dataset_repo, 1, tmp_path / "checkout")
    assert not list(checkout.rglob("*.jpg"))  # nothing unpacked: the images stay in their shards

    out = tmp_path / "files"
    result = CliRunner().invoke(main, ["dataset", "files", "v1", "--out", str(out), "--repo", str(dataset_repo.path)])
    assert result.exit_code == 0, result.output
    assert "wrote 5 images of dataset/v1" in result.output
    manifest = pd.read_parquet(out / "manifest.parquet")
    for path, match_id, frame in zip(manifest["path"], manifest["match_id"], manifest["frame"], strict=True):
        assert md5_file(out / path) == md5_file(sample_factory.path(match_id, frame))
    assert verify_files(out) == 5 and verify_files(checkout) == 5
    coco = json.loads((out / "annotations" / "instances_val.json").read_text())
    assert [image["file_name"] for image in coco["images"]] == ["images/m2/000004.jpg", "images/m2/000005.jpg"]
    assert coco["images"][0]["width"] == 16 and len(coco["annotations"]) == 4
    assert yaml.safe_load((out / "export.yaml").read_text())["version"] == 1

    for split in ("train", "val"):
        from_shards = DetectionDataset(checkout, split, (32, 32))
        _same_items(from_shards, DetectionDataset(out, split, (32, 32)))
        _same_items(from_shards, pickle.loads(pickle.dumps(from_shards)))  # what a DataLoader worker gets

    again = CliRunner().invoke(main, ["dataset", "files", "1", "--out", str(out), "--repo", str(dataset_repo.path)])
    assert again.exit_code == 1 and "not empty" in again.output
    unknown = CliRunner().invoke(
        main, ["dataset", "files", "7", "--out", str(tmp_path / "x"), "--repo", str(dataset_repo.path)]
    )
    assert unknown.exit_code == 1 and "no dataset version 7" in unknown.output
    listed = CliRunner().invoke(main, ["dataset", "list", "--repo", str(dataset_repo.path)])
    assert listed.exit_code == 0 and "dataset/v1" in listed.output

    (checkout / next(iter(open_folder(checkout).manifest()["shard"]))).unlink()
    with pytest.raises(Exception, match="shard"):
        DetectionDataset(checkout, "train", (32, 32))


def _commit_old_layout_version(repo: DatasetRepo, folder: Path, record: dict) -> None:
    """A version as cvops wrote them before shards: one DVC folder per match under images/, whole-version
    manifest, labels and COCO files (made here with the plain git and DVC commands)."""
    repo.ensure_initialized()
    (repo.path / "matches" / ".gitignore").unlink()
    for name in ("images", "manifest.parquet", "labels", "annotations"):
        shutil.move(folder / name, repo.path / name)
    (repo.path / ".gitignore").write_text("/manifest.parquet\n/labels/\n/annotations/\n")
    (repo.path / "images" / ".gitignore").write_text("/*/\n")
    (repo.path / "export.yaml").write_text(yaml.safe_dump(record))
    matches = sorted(p.name for p in (repo.path / "images").iterdir() if p.is_dir())
    repo.dvc("add", "-q", *(f"images/{m}" for m in matches), "manifest.parquet", "labels", "annotations")
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "dataset v1 (files layout)")
    repo.dvc("push", "-q")
    repo.git("tag", "-a", "dataset/v1", "-m", "dataset v1")


@pytest.mark.slow
def test_versions_of_the_old_layout_stay_readable_and_the_next_export_moves_to_shards(
    dataset_repo: DatasetRepo, sample_factory: SampleFactory, tmp_path: Path
) -> None:
    samples, labels = sample_factory.frames({"m1": [1, 2], "m2": [3]}, val=["m2"])
    # The old layout's files are what `cvops dataset files` writes; a version of it is committed by hand.
    scratch = DatasetRepo(tmp_path / "scratch", dataset_repo.remote)
    export_dataset(scratch, samples, labels, **EXPORT_ARGS)
    write_version_files(open_version(scratch, "dataset/v1"), tmp_path / "old")
    record = {"version": 1, "created_at": "2026-01-01T00:00:00+00:00", "previous_version": None,
              "code_commit": "old", "sources": {}, "config": {}, "bytes_new": 1, "bytes_reused": 0,
              "counts": {"samples": 3, "train": 2, "val": 1, "matches": 2, "boxes": 6}}  # fmt: skip
    _commit_old_layout_version(dataset_repo, tmp_path / "old", record)

    assert [v.tag for v in list_versions(dataset_repo)] == ["dataset/v1"]
    old_rows = version_samples(dataset_repo, 1)
    assert old_rows["path"].tolist() == ["images/m1/000001.jpg", "images/m1/000002.jpg", "images/m2/000003.jpg"]
    out = tmp_path / "old-files"
    result = CliRunner().invoke(main, ["dataset", "files", "1", "--out", str(out), "--repo", str(dataset_repo.path)])
    assert result.exit_code == 0, result.output and verify_files(out) == 3
    clone = checkout_version(dataset_repo, 1, tmp_path / "clone")
    assert verify_files(clone) == 3 and len(DetectionDataset(clone, "train", (32, 32))) == 2

    migrated = export_dataset(dataset_repo, samples, labels, **EXPORT_ARGS)  # same samples, new layout
    assert migrated.created and migrated.version.version == 2 and migrated.changed_matches == ("m1", "m2")
    assert migrated.samples.drop(columns="version").equals(old_rows.drop(columns="version"))
    assert sorted(p.name for p in dataset_repo.path.iterdir() if not p.name.startswith(".")) == [
        "export.yaml",
        "matches",
    ]
    assert dataset_repo.git("status", "--porcelain").strip() == ""
    checkout_version(dataset_repo, 2, clone)  # the same clone moves between layouts
    assert not (clone / "images").exists() and not (clone / "manifest.parquet").exists()
    assert verify_files(clone) == 3
    checkout_version(dataset_repo, 1, clone)
    assert verify_files(clone) == 3 and not (clone / "matches").exists()
