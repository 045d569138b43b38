"""Deduplication and reproducibility with the real DVC: the seed's A={1..5}, B={2..6} example."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd

from cvops.datasets import DatasetRepo, RemoteSettings, checkout_version, export_dataset, verify_files
from cvops.datasets.dvc_tool import dvc_command
from cvops.datasets.layout import md5_file
from tests.datasets.dataset_helpers import EXPORT_ARGS, SampleFactory, cache_objects, remote_objects, version_objects


def test_overlapping_versions_store_and_transfer_each_sample_once(
    dataset_repo: DatasetRepo, sample_factory: SampleFactory, local_remote: Path, tmp_path: Path
) -> None:
    samples_a, labels_a = sample_factory.frames({"m1": [1, 2, 3, 4, 5]})
    samples_b, labels_b = sample_factory.frames({"m1": [2, 3, 4, 5, 6]})
    version_a = export_dataset(dataset_repo, samples_a, labels_a, **EXPORT_ARGS)
    version_b = export_dataset(dataset_repo, samples_b, labels_b, **EXPORT_ARGS)

    sample_md5s = set(version_a.samples["md5"]) | set(version_b.samples["md5"])
    assert len(sample_md5s) == 6
    on_remote = remote_objects(local_remote)
    assert on_remote & sample_md5s == sample_md5s  # 6 sample objects for 10 sample slots
    # Everything else on the remote is a manifest, a label/annotation file or a folder listing of A or B.
    assert on_remote == version_objects(dataset_repo, "dataset/v1") | version_objects(dataset_repo, "dataset/v2")
    # Per version: manifest, m1's listing, labels and annotations (a listing + train + val file each) = 8; the
    # empty val files are byte-identical in A and B, so stored once: 8 + 6.
    assert len(on_remote - sample_md5s) == 14

    clone = tmp_path / "trainer"
    checkout_version(dataset_repo, 1, clone)
    holding_a = cache_objects(clone)
    assert holding_a & sample_md5s == set(version_a.samples["md5"])
    checkout_version(dataset_repo, 2, clone)
    pulled = cache_objects(clone) - holding_a
    assert pulled & sample_md5s == set(version_b.samples["md5"]) - set(version_a.samples["md5"])  # exactly 1
    assert len(pulled & sample_md5s) == 1
    assert verify_files(clone) == 5
    assert not (clone / "images" / "m1" / "000001.jpg").exists()

    # A dataset of another task over the same images, in its own repository, pushing to the same remote.
    other_task = DatasetRepo(tmp_path / "shirt-numbers-repo", RemoteSettings(str(local_remote)))
    other_labels = labels_b.assign(role="player", w=labels_b["w"] * 2)
    other = export_dataset(other_task, samples_b, other_labels, **EXPORT_ARGS)
    assert other.version.bytes_new > 0  # new to that repository...
    assert remote_objects(local_remote) & sample_md5s == sample_md5s  # ...but no new image object on the remote
    assert other.objects_pushed == len(remote_objects(local_remote) - on_remote)
    assert not ((remote_objects(local_remote) - on_remote) & sample_md5s)


def test_fresh_clone_pulls_every_file_with_its_manifest_md5(
    dataset_repo: DatasetRepo, sample_factory: SampleFactory, tmp_path: Path
) -> None:
    samples, labels = sample_factory.frames({"m1": [1, 2, 3], "m2": [7, 8]}, val=["m2"])
    export_dataset(dataset_repo, samples, labels, **EXPORT_ARGS)

    # Plain tools only, as a colleague on another machine would do it: git clone, git checkout, dvc pull.
    fresh = tmp_path / "fresh"
    subprocess.run(["git", "clone", "-q", str(dataset_repo.path), str(fresh)], check=True)
    subprocess.run(["git", "checkout", "-q", "dataset/v1"], cwd=fresh, check=True)
    subprocess.run([*dvc_command(), "pull", "-q"], cwd=fresh, check=True)

    manifest = pd.read_parquet(fresh / "manifest.parquet")
    assert len(manifest) == 5
    for path, md5 in zip(manifest["path"], manifest["md5"], strict=True):
        assert md5_file(fresh / path) == md5
    for name in ("labels/train.parquet", "labels/val.parquet", "annotations/instances_val.json"):
        assert md5_file(fresh / name) == md5_file(dataset_repo.path / name)
    assert verify_files(fresh) == 5

    # The remote moved since the commit: checkout_version points the clone at the new place (config.local).
    moved = tmp_path / "moved-remote"
    Path(dataset_repo.remote.url).rename(moved)
    relocated = DatasetRepo(dataset_repo.path, RemoteSettings(str(moved)))
    clone = checkout_version(relocated, 1, tmp_path / "relocated")
    assert verify_files(clone) == 5 and str(moved) in (clone / ".dvc" / "config.local").read_text()
