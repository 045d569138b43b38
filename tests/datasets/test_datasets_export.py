"""Exporting versions with the real git and DVC: the layout, idempotence, dropped matches, incremental pushes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml

from cvops.datasets import DatasetRepo, export_dataset, export_preview, list_versions, version_samples, versions_frame
from cvops.datasets.layout import MANIFEST_COLUMNS, md5_file
from tests.datasets.dataset_helpers import EXPORT_ARGS, SampleFactory, remote_objects


def test_first_version_has_the_contract_layout(dataset_repo: DatasetRepo, sample_factory: SampleFactory) -> None:
    samples, labels = sample_factory.frames({"m1": [10, 20, 30], "m2": [5, 15]}, val=["m2"])
    labels = pd.concat([labels, labels.iloc[[0]].assign(track_id=9, role="other")], ignore_index=True)

    result = export_dataset(dataset_repo, samples, labels, **EXPORT_ARGS)

    root = dataset_repo.path
    version = result.version
    assert (version.version, version.tag) == (1, "dataset/v1")
    assert (version.n_samples, version.n_train, version.n_val) == (5, 3, 2)
    assert result.created and version.pushed and result.push_error is None
    assert dataset_repo.git("rev-parse", "dataset/v1^{commit}").strip() == version.git_commit

    manifest = pd.read_parquet(root / "manifest.parquet")
    assert tuple(manifest.columns) == MANIFEST_COLUMNS
    assert manifest["path"].tolist() == [
        "images/m1/000010.jpg", "images/m1/000020.jpg", "images/m1/000030.jpg",
        "images/m2/000005.jpg", "images/m2/000015.jpg",
    ]  # fmt: skip
    for row in manifest.itertuples():
        path, md5, frame, match_id = row.path, row.md5, row.frame, row.match_id
        assert md5_file(root / path) == md5 == md5_file(sample_factory.path(match_id, frame))
    assert manifest["n_boxes"].tolist() == [3, 2, 2, 2, 2]  # the 'other' box counts: it is a label

    train = pd.read_parquet(root / "labels" / "train.parquet")
    val = pd.read_parquet(root / "labels" / "val.parquet")
    assert list(train.columns) == ["match_id", "frame", "track_id", "role", "x", "y", "w", "h"]
    assert (len(train), len(val)) == (7, 4) and set(val["match_id"]) == {"m2"}

    coco = json.loads((root / "annotations" / "instances_train.json").read_text())
    assert [c["name"] for c in coco["categories"]] == ["player", "goalkeeper", "referee", "ball"]
    assert coco["images"][0] == {
        "id": 1, "file_name": "images/m1/000010.jpg", "width": 16, "height": 12, "match_id": "m1", "frame": 10,
    }  # fmt: skip
    assert len(coco["annotations"]) == 6  # 'other' has no COCO category
    first = coco["annotations"][0]
    assert (first["image_id"], first["category_id"], first["track_id"], first["role"]) == (1, 1, 1, "player")
    assert first["bbox"] == [2.0, 2.0, 3.0, 4.0] and first["area"] == 12.0

    record = yaml.safe_load((root / "export.yaml").read_text())
    assert record["version"] == 1 and record["code_commit"] == "0123abc" and record["sources"] == {"labels": "v7"}
    assert record["config"] == EXPORT_ARGS["config"]

    tracked = set(dataset_repo.git("ls-files").split())
    assert {"images/m1.dvc", "images/m2.dvc", "manifest.parquet.dvc", "labels.dvc", "annotations.dvc"} <= tracked
    assert not any(name.endswith(".jpg") or name.endswith(".parquet") for name in tracked)
    assert dataset_repo.git("status", "--porcelain").strip() == ""

    assert "dataset/v1" in result.report and version.git_commit in result.report
    assert result.dvc_ids["images/m1"].endswith(".dir") and result.dvc_ids["images/m1"] in result.report
    assert "policy: oldest" in result.report
    assert result.samples.columns.tolist() == ["version", "match_id", "frame", "split", "md5", "path"]
    assert versions_frame(list_versions(dataset_repo)).to_dict("records")[0]["tag"] == "dataset/v1"


def test_same_samples_make_no_new_version_and_dropped_matches_leave(
    dataset_repo: DatasetRepo, sample_factory: SampleFactory
) -> None:
    samples, labels = sample_factory.frames({"m1": [1, 2], "m2": [1, 2], "m3": [1]})
    export_dataset(dataset_repo, samples, labels, **EXPORT_ARGS)

    again = export_dataset(dataset_repo, samples, labels, **{**EXPORT_ARGS, "code_commit": "fff"})
    assert not again.created and again.version.version == 1 and "unchanged" in again.report
    assert len(list_versions(dataset_repo)) == 1

    kept = samples[samples["match_id"] != "m2"]
    preview = export_preview(dataset_repo, kept)
    assert "| **total** | 3 | 2 | 5 | 3 | +0 | -2 |" in preview and "`m2`" in preview

    second = export_dataset(dataset_repo, kept, labels, **EXPORT_ARGS)
    assert second.created and second.version.version == 2 and second.version.bytes_new == 0
    images = dataset_repo.path / "images"
    assert sorted(p.name for p in images.iterdir() if p.name != ".gitignore") == ["m1", "m1.dvc", "m3", "m3.dvc"]
    assert set(version_samples(dataset_repo, 2)["match_id"]) == {"m1", "m3"}
    assert set(version_samples(dataset_repo, 1)["match_id"]) == {"m1", "m2", "m3"}

    relabelled = labels.assign(x=labels["x"] + 1)
    third = export_dataset(dataset_repo, kept, relabelled, **EXPORT_ARGS)
    assert third.created and third.version.version == 3  # same images, new labels: a new version
    assert set(third.dvc_ids) == {"manifest.parquet", "labels", "annotations"}  # no image folder rebuilt


def test_new_match_pushes_only_its_samples(
    dataset_repo: DatasetRepo, sample_factory: SampleFactory, local_remote: Path
) -> None:
    samples, labels = sample_factory.frames({"m1": range(1, 9), "m2": range(1, 9)})
    first = export_dataset(dataset_repo, samples, labels, **EXPORT_ARGS)
    before = remote_objects(local_remote)
    assert first.objects_pushed == len(before)

    more, more_labels = sample_factory.frames({"m1": range(1, 9), "m2": range(1, 9), "m3": range(1, 5)})
    second = export_dataset(dataset_repo, more, more_labels, **EXPORT_ARGS)

    added = remote_objects(local_remote) - before
    new_samples = set(second.samples.loc[second.samples["match_id"] == "m3", "md5"])
    assert new_samples <= added
    old_samples = set(first.samples["md5"])
    assert not (added & old_samples)
    # Besides the 4 new images: m3's .dir, the manifest, and the changed label and annotation files + .dirs.
    metadata = added - new_samples
    assert second.dvc_ids["images/m3"] in metadata and second.dvc_ids["manifest.parquet"] in metadata
    assert len(metadata) == 1 + 1 + 2 + 2
    assert second.objects_pushed == len(added)
    assert set(second.dvc_ids) == {"manifest.parquet", "labels", "annotations", "images/m3"}
    assert second.version.bytes_new == sum(sample_factory.path("m3", f).stat().st_size for f in range(1, 5))
