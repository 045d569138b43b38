"""Deduplication and reproducibility with the real DVC: the seed's A={1..5}, B={2..6} example."""

from __future__ import annotations

import subprocess
from pathlib import Path

from cvops.datasets import DatasetRepo, RemoteSettings, checkout_version, export_dataset, open_folder, verify_files
from cvops.datasets.dvc_tool import dvc_command
from cvops.datasets.layout import md5_file
from tests.datasets.dataset_helpers import (
    EXPORT_ARGS,
    SampleFactory,
    cache_objects,
    remote_objects,
    shard_members,
    version_objects,
)


def test_overlapping_versions_store_and_transfer_each_sample_once(
    dataset_repo: DatasetRepo, sample_factory: SampleFactory, local_remote: Path, tmp_path: Path
) -> None:
    samples_a, labels_a = sample_factory.frames({"m1": [1, 2, 3, 4, 5]})
    samples_b, labels_b = sample_factory.frames({"m1": [2, 3, 4, 5, 6]})
    version_a = export_dataset(dataset_repo, samples_a, labels_a, **EXPORT_ARGS)
    version_b = export_dataset(dataset_repo, samples_b, labels_b, **EXPORT_ARGS)

    sample_md5s = set(version_a.samples["md5"]) | set(version_b.samples["md5"])
    assert len(sample_md5s) == 6
    # 6 images in the shards of the remote for 10 sample slots: B added one shard holding frame 6 only.
    assert shard_members(local_remote) == {md5: 1 for md5 in sample_md5s}
    on_remote = remote_objects(local_remote)
    assert on_remote == version_objects(dataset_repo, "dataset/v1") | version_objects(dataset_repo, "dataset/v2")
    # Per version: a shard, samples.parquet, labels.parquet and the folder listing.
    assert len(on_remote) == 8

    clone = tmp_path / "trainer"
    checkout_version(dataset_repo, 1, clone)
    holding_a = cache_objects(clone)
    checkout_version(dataset_repo, 2, clone)
    pulled = cache_objects(clone) - holding_a
    assert len(pulled) == 4 and sum(shard_members(clone / ".dvc" / "cache").values()) == 6  # frame 6 only
    assert verify_files(clone) == 5
    assert open_folder(clone).manifest()["frame"].tolist() == [2, 3, 4, 5, 6]

    # A dataset of another task over the same images, in its own repository, pushing to the same remote: the
    # same samples added in the same order make the same shards, so no image is stored or pushed again.
    other_task = DatasetRepo(tmp_path / "shirt-numbers-repo", RemoteSettings(str(local_remote)))
    for samples, labels in ((samples_a, labels_a), (samples_b, labels_b)):
        other = export_dataset(other_task, samples, labels.assign(role="player", w=labels["w"] * 2), **EXPORT_ARGS)
        assert other.version.bytes_new >= 0
    assert shard_members(local_remote) == {md5: 1 for md5 in sample_md5s}


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

    # Byte-exact: every file of the version is the one the exporter wrote.
    written = sorted(
        p.relative_to(dataset_repo.path) for p in (dataset_repo.path / "matches").rglob("*") if p.is_file()
    )
    pulled = sorted(p.relative_to(fresh) for p in (fresh / "matches").rglob("*") if p.is_file())
    assert pulled == written and len(written) == 1 + 2 + 3 * 2  # .gitignore, 2 .dvc files, 3 files per match
    for relative in written:
        assert md5_file(fresh / relative) == md5_file(dataset_repo.path / relative)
    assert verify_files(fresh) == 5

    # The remote moved since the commit: checkout_version points the clone at the new place (config.local).
    moved = tmp_path / "moved-remote"
    Path(dataset_repo.remote.url).rename(moved)
    relocated = DatasetRepo(dataset_repo.path, RemoteSettings(str(moved)))
    clone = checkout_version(relocated, 1, tmp_path / "relocated")
    assert verify_files(clone) == 5 and str(moved) in (clone / ".dvc" / "config.local").read_text()
