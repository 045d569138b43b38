"""Exporting versions with the real git and DVC: the layout, idempotence, dropped matches, incremental pushes."""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

import pandas as pd
import yaml

from cvops.datasets import (
    DatasetRepo,
    export_dataset,
    export_preview,
    list_versions,
    open_folder,
    version_samples,
    versions_frame,
)
from cvops.datasets.layout import MANIFEST_COLUMNS, md5_file
from tests.datasets.dataset_helpers import EXPORT_ARGS, SampleFactory, remote_objects, shard_members


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

    # One part per match: its manifest rows, its labels and one shard holding its images.
    assert sorted(p.name for p in (root / "matches" / "m1").iterdir()) == [
        "labels.parquet", "m1-000010-000030-" + _shard_hash(root, "m1") + ".tar", "samples.parquet",
    ]  # fmt: skip
    data = open_folder(root)
    manifest = data.manifest()
    assert tuple(manifest.columns[:7]) == MANIFEST_COLUMNS
    assert manifest["path"].tolist() == [
        "images/m1/000010.jpg", "images/m1/000020.jpg", "images/m1/000030.jpg",
        "images/m2/000005.jpg", "images/m2/000015.jpg",
    ]  # fmt: skip
    images = data.images(manifest)
    for index, row in enumerate(manifest.itertuples()):
        assert (
            hashlib.md5(images.read(index)).hexdigest()
            == row.md5
            == md5_file(sample_factory.path(row.match_id, row.frame))
        )
    assert manifest["n_boxes"].tolist() == [3, 2, 2, 2, 2]  # the 'other' box counts: it is a label
    assert (manifest["width"].unique().tolist(), manifest["height"].unique().tolist()) == ([16], [12])
    with tarfile.open(root / manifest["shard"].iloc[0]) as tar:  # a plain tar: WebDataset keys, fixed headers
        members = tar.getmembers()
    assert [m.name for m in members] == ["m1/000010.jpg", "m1/000020.jpg", "m1/000030.jpg"]
    assert {(m.mtime, m.uid, m.uname, m.mode) for m in members} == {(0, 0, "", 0o444)}
    assert [m.offset_data for m in members] == manifest["offset"].iloc[:3].tolist()

    labels_read = data.labels()
    assert list(labels_read.columns) == ["match_id", "frame", "track_id", "role", "x", "y", "w", "h", "split"]
    assert (labels_read["split"] == "train").sum() == 7 and set(
        labels_read.loc[labels_read["split"] == "val", "match_id"]
    ) == {"m2"}

    record = yaml.safe_load((root / "export.yaml").read_text())
    assert record["version"] == 1 and record["code_commit"] == "0123abc" and record["sources"] == {"labels": "v7"}
    assert record["config"] == EXPORT_ARGS["config"] and record["layout"] == "shards"
    assert record["counts"] == {"samples": 5, "train": 3, "val": 2, "matches": 2, "boxes": 11}

    tracked = set(dataset_repo.git("ls-files").split())
    assert tracked == {".dvc/.gitignore", ".dvc/config", ".dvcignore", "export.yaml", "matches/.gitignore",
                       "matches/m1.dvc", "matches/m2.dvc"}  # fmt: skip
    assert dataset_repo.git("status", "--porcelain").strip() == ""

    assert "dataset/v1" in result.report and version.git_commit in result.report
    assert result.dvc_ids["matches/m1"].endswith(".dir") and result.dvc_ids["matches/m1"] in result.report
    assert "policy: oldest" in result.report
    assert result.samples.columns.tolist() == ["version", "match_id", "frame", "split", "md5", "path"]
    assert result.samples.equals(version_samples(dataset_repo, 1))
    assert versions_frame(list_versions(dataset_repo)).to_dict("records")[0]["tag"] == "dataset/v1"


def _shard_hash(root: Path, match_id: str) -> str:
    (shard,) = (root / "matches" / match_id).glob("*.tar")
    return shard.stem.rsplit("-", 1)[-1]


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
    matches = dataset_repo.path / "matches"
    assert sorted(p.name for p in matches.iterdir()) == [".gitignore", "m1", "m1.dvc", "m3", "m3.dvc"]
    assert second.changed_matches == () and second.objects_pushed == 0  # dropping a match pushes nothing
    assert set(version_samples(dataset_repo, 2)["match_id"]) == {"m1", "m3"}
    assert set(version_samples(dataset_repo, 1)["match_id"]) == {"m1", "m2", "m3"}

    relabelled = labels.assign(x=labels["x"] + 1)
    third = export_dataset(dataset_repo, kept, relabelled, **EXPORT_ARGS)
    assert third.created and third.version.version == 3  # same images, new labels: a new version
    assert set(third.dvc_ids) == {"matches/m1", "matches/m3"} and third.version.bytes_new == 0
    assert third.objects_pushed == 2 * 2  # per match: the new labels.parquet and folder listing, no shard


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
    # m3's part only: its shard, samples.parquet, labels.parquet and the folder listing.
    assert len(added) == 4 and second.dvc_ids["matches/m3"] in added
    assert second.objects_pushed == len(added)
    assert set(second.dvc_ids) == {"matches/m3"} and second.changed_matches == ("m3",)
    assert shard_members(local_remote) == {md5: 1 for md5 in set(second.samples["md5"])}
    assert second.version.bytes_new == sum(sample_factory.path("m3", f).stat().st_size for f in range(1, 5))
