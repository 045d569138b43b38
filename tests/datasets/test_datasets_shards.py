"""Per-match parts and shards with the real git and DVC: what a version re-reads, rewrites and pushes."""

from __future__ import annotations

from pathlib import Path

import pytest

from cvops.datasets import DatasetRepo, RemoteSettings, export_dataset, open_folder
from cvops.datasets import export as export_module
from cvops.datasets import sample_info as sample_info_module
from cvops.datasets.shards import write_shard
from tests.datasets.dataset_helpers import EXPORT_ARGS, SampleFactory, remote_objects, shard_members


def _dvc_files(repo: DatasetRepo) -> dict[str, str]:
    folder = repo.path / "matches"
    return {path.name: path.read_text() for path in sorted(folder.glob("*.dvc"))}


def _shards(repo: DatasetRepo, match_id: str) -> list[str]:
    return sorted(path.name for path in (repo.path / "matches" / match_id).glob("*.tar"))


def test_shards_are_deterministic(sample_factory: SampleFactory, tmp_path: Path) -> None:
    samples, _ = sample_factory.frames({"m1": [1, 2, 3]})
    first = write_shard(tmp_path, "m1", [1, 2, 3], samples["source_path"].tolist())
    second_folder = tmp_path / "again"
    second_folder.mkdir()
    second = write_shard(second_folder, "m1", [1, 2, 3], samples["source_path"].tolist())
    assert first.path.name == second.path.name and first.path.read_bytes() == second.path.read_bytes()
    assert (first.offsets, first.sizes) == (second.offsets, second.sizes)


@pytest.mark.slow
def test_unchanged_matches_are_not_read_rebuilt_or_pushed_again(
    dataset_repo: DatasetRepo,
    sample_factory: SampleFactory,
    local_remote: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    samples, labels = sample_factory.frames({"m1": range(1, 9), "m2": range(1, 9)}, val=["m2"])
    export_dataset(dataset_repo, samples, labels, **EXPORT_ARGS)
    before_files, before_remote = _dvc_files(dataset_repo), remote_objects(local_remote)
    folders = {match: sorted((dataset_repo.path / "matches" / match).iterdir()) for match in ("m1", "m2")}
    inodes = {match: [path.stat().st_ino for path in paths] for match, paths in folders.items()}

    read = []
    original = sample_info_module._read
    monkeypatch.setattr(sample_info_module, "_read", lambda path: read.append(path) or original(path))
    more, more_labels = sample_factory.frames({"m1": range(1, 9), "m2": range(1, 9), "m3": range(1, 5)}, val=["m2"])
    second = export_dataset(dataset_repo, more, more_labels, **EXPORT_ARGS)

    assert second.changed_matches == ("m3",) and set(second.dvc_ids) == {"matches/m3"}
    assert {Path(path).parent.name for path in read} == {"m3"}  # no image of m1 or m2 read again
    after_files = _dvc_files(dataset_repo)
    assert {name: after_files[name] for name in before_files} == before_files  # .dvc files byte for byte
    for match, paths in folders.items():  # the folders were not rewritten
        assert [path.stat().st_ino for path in paths] == inodes[match]
    assert second.objects_pushed == len(remote_objects(local_remote) - before_remote) == 4  # m3's part only

    # The same repository made again elsewhere from the same inputs, its parts built by worker processes this
    # time: the same parts, byte for byte.
    monkeypatch.setattr(export_module, "PARALLEL_MIN_SAMPLES", 0)
    twin = DatasetRepo(tmp_path / "twin-repo", RemoteSettings(str(tmp_path / "twin-remote")))
    export_dataset(twin, samples, labels, **EXPORT_ARGS)
    export_dataset(twin, more, more_labels, **EXPORT_ARGS)
    assert _dvc_files(twin) == after_files


@pytest.mark.slow
def test_a_match_that_gains_frames_adds_a_shard_and_one_that_loses_frames_lists_fewer(
    dataset_repo: DatasetRepo, sample_factory: SampleFactory, local_remote: Path
) -> None:
    samples, labels = sample_factory.frames({"m1": [1, 2, 3], "m2": [1, 2, 3, 4]})
    export_dataset(dataset_repo, samples, labels, **EXPORT_ARGS)
    first_shards = {match: _shards(dataset_repo, match) for match in ("m1", "m2")}

    changed, changed_labels = sample_factory.frames({"m1": [1, 2, 3, 4, 5], "m2": [2, 4]})
    second = export_dataset(dataset_repo, changed, changed_labels, **EXPORT_ARGS)

    gained = _shards(dataset_repo, "m1")
    assert len(gained) == 2 and first_shards["m1"][0] in gained  # the old shard kept as it was, one new shard
    assert gained[1].startswith("m1-000004-000005-")
    assert _shards(dataset_repo, "m2") == first_shards["m2"]  # no shard written: fewer rows listed
    manifest = open_folder(dataset_repo.path).manifest()
    assert manifest.loc[manifest["match_id"] == "m2", "frame"].tolist() == [2, 4]
    assert second.version.bytes_new == sum(sample_factory.path("m1", f).stat().st_size for f in (4, 5))

    # Frames that come back are found in the shard that already holds them: nothing new is stored.
    before = remote_objects(local_remote)
    third = export_dataset(dataset_repo, samples, labels, **EXPORT_ARGS)
    added = remote_objects(local_remote) - before
    assert third.version.bytes_new > 0 and third.changed_matches == ("m1", "m2")
    assert added == set()  # v3 holds what v1 held: the same parts, whose objects the remote has
    assert shard_members(local_remote) == {md5: 1 for md5 in set(second.samples["md5"]) | set(third.samples["md5"])}


@pytest.mark.slow
def test_each_sample_is_pushed_once_across_versions_and_dropped_matches_come_back_without_a_new_shard(
    dataset_repo: DatasetRepo, sample_factory: SampleFactory, local_remote: Path
) -> None:
    history = [
        {"m1": [1, 2], "m2": [1, 2, 3]},
        {"m1": [1, 2, 3]},  # m2 dropped, m1 gains a frame
        {"m1": [2, 3], "m2": [1, 2, 3, 4]},  # m2 back with one frame more, m1 loses one
    ]
    seen = set()
    for number, matches in enumerate(history, start=1):
        samples, labels = sample_factory.frames(matches)
        result = export_dataset(dataset_repo, samples, labels, max_shard_bytes=1500, **EXPORT_ARGS)
        assert result.version.version == number
        seen |= set(result.samples["md5"])
    assert shard_members(local_remote) == {md5: 1 for md5 in seen}  # 7 distinct images, each in one shard
    assert len(seen) == 7
    # With at most 1500 bytes of images per shard (~850 B each) new samples went into one shard each.
    assert all(len(name.split("-")) == 4 for name in _shards(dataset_repo, "m2"))
    assert len(_shards(dataset_repo, "m2")) == 4
