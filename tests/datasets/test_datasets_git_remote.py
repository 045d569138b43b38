"""Publishing versions to a git remote (a bare repository): ``dvc get``/``dvc import`` of a tag from a fresh folder,
a version counts as published only when both its DVC push and its git push succeeded, and a node without the
repository recreates it from the git remote and carries on."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest

from cvops.datasets import DatasetRepo, RemoteSettings, export_dataset, list_versions, versions_frame
from cvops.datasets.dvc_tool import dvc_command
from cvops.datasets.reader import open_folder
from cvops.datasets.repo import DatasetRepoError
from tests.datasets.dataset_helpers import EXPORT_ARGS, SampleFactory


def _bare(path: Path) -> Path:
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
    return path


def _refs(bare: Path) -> dict[str, str]:
    listing = subprocess.run(
        ["git", "for-each-ref", "--format=%(refname) %(*objectname) %(objectname)"],
        cwd=bare, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return {name: (peeled or target) for name, peeled, target in (line.split(" ") for line in listing.splitlines())}


def _run(argv: list[str], cwd: Path) -> None:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{' '.join(argv)}: {done.stderr}"


def test_published_version_can_be_fetched_with_dvc_get_and_import_from_a_fresh_folder(
    tmp_path: Path, local_remote: Path, sample_factory: SampleFactory
) -> None:
    bare = _bare(tmp_path / "datasets.git")
    repo = DatasetRepo(tmp_path / "dataset-repo", RemoteSettings(str(local_remote)), git_remote=str(bare))
    samples, labels = sample_factory.frames({"m1": [10, 20], "m2": [5]}, val=["m2"])
    first = export_dataset(repo, samples, labels, **EXPORT_ARGS)
    more, more_labels = sample_factory.frames({"m1": [10, 20], "m2": [5], "m3": [7, 8]}, val=["m2"])
    second = export_dataset(repo, more, more_labels, **EXPORT_ARGS)

    assert first.version.published and second.version.published and second.publish_error is None
    assert [v.published for v in list_versions(repo)] == [True, True]
    assert versions_frame(list_versions(repo))["published"].tolist() == [True, True]  # the catalog column
    refs = _refs(bare)
    assert refs["refs/tags/dataset/v1"] == first.version.git_commit
    assert refs["refs/tags/dataset/v2"] == refs["refs/heads/main"] == second.version.git_commit

    # Someone else, with only the git remote's URL: `dvc get` the whole version at a tag ...
    fresh = tmp_path / "elsewhere"
    fresh.mkdir()
    dvc = dvc_command()
    _run([*dvc, "get", str(bare), "matches", "--rev", "dataset/v1", "-o", "v1/matches"], fresh)
    got = open_folder(fresh / "v1").manifest()
    assert sorted(got["match_id"].unique()) == ["m1", "m2"]
    pd.testing.assert_series_equal(
        got.sort_values(["match_id", "frame"])["md5"].reset_index(drop=True),
        first.samples.sort_values(["match_id", "frame"])["md5"].reset_index(drop=True),
        check_names=False,
    )
    # ... or `dvc import` one match of it into their own DVC project, which records the tag and can update.
    _run(["git", "init", "-q"], fresh)
    _run([*dvc, "init", "-q"], fresh)
    _run([*dvc, "import", str(bare), "matches/m3", "--rev", "dataset/v2", "-o", "m3"], fresh)
    imported = (fresh / "m3.dvc").read_text()
    assert "rev: dataset/v2" in imported and str(bare) in imported
    assert sorted(p.name for p in (fresh / "m3").iterdir() if p.suffix == ".parquet") == [
        "labels.parquet",
        "samples.parquet",
    ]


def test_a_version_is_published_only_after_both_pushes_and_a_later_export_catches_up(
    tmp_path: Path, local_remote: Path, sample_factory: SampleFactory
) -> None:
    missing_git = tmp_path / "not-yet.git"
    repo = DatasetRepo(tmp_path / "dataset-repo", RemoteSettings(str(local_remote)), git_remote=str(missing_git))
    samples, labels = sample_factory.frames({"m1": [1, 2]})

    down = export_dataset(repo, samples, labels, **EXPORT_ARGS)
    assert down.created and down.version.pushed and not down.version.published
    assert down.publish_error is not None and "git push" in down.publish_error

    # The DVC remote down this time: the git remote is up, but the tag must not be published without its data.
    _bare(missing_git)
    parked = local_remote.with_name("parked-remote")
    local_remote.rename(parked)
    local_remote.write_text("not a folder")
    more, more_labels = sample_factory.frames({"m1": [1, 2], "m2": [3]})
    no_data = export_dataset(repo, more, more_labels, **EXPORT_ARGS)
    assert not no_data.version.pushed and not no_data.version.published
    refs = _refs(missing_git)
    assert "refs/tags/dataset/v2" not in refs and refs["refs/tags/dataset/v1"] == down.version.git_commit
    assert refs["refs/heads/main"] == down.version.git_commit  # the branch stops at the last version with data

    local_remote.unlink()
    parked.rename(local_remote)
    caught_up = export_dataset(repo, more, more_labels, **EXPORT_ARGS)
    assert not caught_up.created and caught_up.version.published and caught_up.publish_error is None
    assert [(v.pushed, v.published) for v in list_versions(repo)] == [(True, True), (True, True)]
    assert _refs(missing_git)["refs/heads/main"] == no_data.version.git_commit


def test_a_token_in_the_git_remote_url_is_never_shown(
    tmp_path: Path, local_remote: Path, sample_factory: SampleFactory
) -> None:
    url = "https://cvops:tok3n-s3cret@127.0.0.1:9/datasets.git"  # nothing listens on port 9: the push fails
    repo = DatasetRepo(tmp_path / "dataset-repo", RemoteSettings(str(local_remote)), git_remote=url)
    samples, labels = sample_factory.frames({"m1": [1]})
    result = export_dataset(repo, samples, labels, **EXPORT_ARGS)
    assert result.publish_error is not None and not result.version.published
    shown = [result.publish_error, result.report, repr(repo), (repo.state_dir / "push-ledger.json").read_text()]
    assert not [text for text in shown if "tok3n-s3cret" in text]


def test_a_fresh_node_recreates_the_repository_from_the_git_remote_and_carries_on(
    tmp_path: Path, local_remote: Path, sample_factory: SampleFactory
) -> None:
    bare = _bare(tmp_path / "datasets.git")
    first_node = DatasetRepo(tmp_path / "node-a" / "dataset-repo", RemoteSettings(str(local_remote)), str(bare))
    samples, labels = sample_factory.frames({"m1": [10, 20], "m2": [5]}, val=["m2"])
    first = export_dataset(first_node, samples, labels, **EXPORT_ARGS)
    assert first.version.published

    # Another node (node-a's volume is gone): no repository, the same remotes; a clone killed there left debris.
    fresh = DatasetRepo(tmp_path / "node-b" / "dataset-repo", RemoteSettings(str(local_remote)), str(bare))
    debris = fresh.path.with_name("dataset-repo.cloning")
    debris.mkdir(parents=True)
    (debris / "half-written").write_text("x")
    more, more_labels = sample_factory.frames({"m1": [10, 20], "m2": [5], "m3": [7, 8]}, val=["m2"])
    second = export_dataset(fresh, more, more_labels, **EXPORT_ARGS)

    assert not debris.exists()
    assert second.created and second.version.version == 2 and second.changed_matches == ("m3",)
    assert second.objects_pushed == 4  # m3's shard, samples.parquet, labels.parquet and folder listing: nothing of v1
    assert [(v.version, v.pushed, v.published) for v in list_versions(fresh)] == [(1, True, True), (2, True, True)]
    refs = _refs(bare)
    assert refs["refs/tags/dataset/v1"] == first.version.git_commit
    assert refs["refs/tags/dataset/v2"] == refs["refs/heads/main"] == second.version.git_commit
    parent = fresh.git("rev-parse", f"{second.version.git_commit}^").strip()
    assert parent == first.version.git_commit  # history continues from the published version
    reused = second.samples[second.samples["match_id"] != "m3"].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        reused.drop(columns=["version"]), first.samples.drop(columns=["version"]).reset_index(drop=True)
    )


def test_recreating_never_overwrites_a_folder_that_is_not_a_repository(
    tmp_path: Path, local_remote: Path, sample_factory: SampleFactory
) -> None:
    bare = _bare(tmp_path / "datasets.git")
    samples, labels = sample_factory.frames({"m1": [1]})
    export_dataset(DatasetRepo(tmp_path / "a" / "repo", RemoteSettings(str(local_remote)), str(bare)),
                   samples, labels, **EXPORT_ARGS)  # fmt: skip
    occupied = tmp_path / "b" / "repo"
    occupied.mkdir(parents=True)
    (occupied / "notes.txt").write_text("someone's file")
    with pytest.raises(DatasetRepoError, match="exists but is not a dataset repository"):
        export_dataset(DatasetRepo(occupied, RemoteSettings(str(local_remote)), str(bare)), samples, labels,
                       **EXPORT_ARGS)  # fmt: skip
    assert (occupied / "notes.txt").read_text() == "someone's file"
