"""Faults: an export killed between its steps, a remote that is down, two exports at once."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from cvops.datasets import (
    DatasetRepo,
    LockTimeoutError,
    export_dataset,
    list_versions,
    verify_files,
)
from cvops.datasets import export as export_module
from cvops.datasets.lock import exclusive_lock
from tests.datasets.dataset_helpers import EXPORT_ARGS, SampleFactory, remote_objects, version_objects


class SimulatedKill(BaseException):
    """Stands for SIGKILL: not an Exception, so no handler in the exporter can swallow it."""


def _kill_at(monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    def killed(*args: object, **kwargs: object) -> None:
        raise SimulatedKill(step)

    monkeypatch.setattr(export_module, step, killed)


@pytest.mark.slow
@pytest.mark.parametrize("step", ["_commit_version", "_push_version", "_tag_version"])
def test_killed_export_leaves_no_version_and_the_next_run_completes_it(
    step: str, dataset_repo: DatasetRepo, sample_factory: SampleFactory, local_remote: Path
) -> None:
    first, first_labels = sample_factory.frames({"m1": [1, 2], "m2": [1, 2]})
    export_dataset(dataset_repo, first, first_labels, **EXPORT_ARGS)
    second, second_labels = sample_factory.frames({"m1": [1, 2, 3], "m3": [4, 5]})

    with pytest.MonkeyPatch.context() as patch:
        _kill_at(patch, step)
        with pytest.raises(SimulatedKill):
            export_dataset(dataset_repo, second, second_labels, **EXPORT_ARGS)

    assert [v.tag for v in list_versions(dataset_repo)] == ["dataset/v1"]  # no tag, no half version listed
    assert "dataset/v2" not in dataset_repo.git("tag", "--list")
    # What a SIGKILL in the middle of an atomic write or a folder build leaves behind.
    leftovers = [
        dataset_repo.path / "matches" / "m1" / ".samples.parquet.x1.tmp",
        dataset_repo.path / "matches" / ".m3.building",
    ]
    leftovers[0].write_bytes(b"half a file")
    leftovers[1].mkdir(exist_ok=True)

    result = export_dataset(dataset_repo, second, second_labels, **EXPORT_ARGS)

    versions = list_versions(dataset_repo)
    assert [v.tag for v in versions] == ["dataset/v1", "dataset/v2"]
    assert versions[-1].pushed and versions[-1].n_samples == 5
    if step == "_commit_version":  # nothing was committed: the second run made the version
        assert result.created and not result.completed
    else:  # the commit existed: the second run finished it, and found nothing new to make
        assert not result.created and [v.tag for v in result.completed] == ["dataset/v2"]
    assert result.version.tag == "dataset/v2" and result.version.pushed
    assert remote_objects(local_remote) >= version_objects(dataset_repo, "dataset/v2")
    assert dataset_repo.git("status", "--porcelain").strip() == ""
    assert verify_files(dataset_repo.path) == 5  # the work tree holds exactly v2, leftovers of the kill are gone
    assert not any(path.exists() for path in leftovers)
    assert sorted(p.name for p in (dataset_repo.path / "matches").iterdir()) == [
        ".gitignore",
        "m1",
        "m1.dvc",
        "m3",
        "m3.dvc",
    ]


@pytest.mark.slow
def test_failed_pushes_are_reported_and_the_next_run_pushes_only_what_is_missing(
    dataset_repo: DatasetRepo, sample_factory: SampleFactory, local_remote: Path
) -> None:
    first, first_labels = sample_factory.frames({"m1": [1, 2, 3]})
    export_dataset(dataset_repo, first, first_labels, **EXPORT_ARGS)
    before = remote_objects(local_remote)

    # Remote down: its folder is replaced by a plain file, so nothing can be written under it.
    parked = local_remote.with_name("parked-remote")
    local_remote.rename(parked)
    local_remote.write_text("not a folder")
    second, second_labels = sample_factory.frames({"m1": [1, 2, 3], "m2": [1, 2]})
    failed = export_dataset(dataset_repo, second, second_labels, **EXPORT_ARGS)

    assert failed.created and failed.version.tag == "dataset/v2" and not failed.version.pushed
    assert failed.push_error is not None and "dvc push" in failed.push_error and "Not a directory" in failed.push_error
    assert "**no**" in failed.report and failed.push_error.splitlines()[0] in failed.report
    assert [v.pushed for v in list_versions(dataset_repo)] == [True, False]

    # Still down for the next version, which drops m2: v2's m2 objects are then owed by a version that is
    # no longer HEAD.
    third, third_labels = sample_factory.frames({"m1": [1, 2, 3], "m3": [7]})
    assert not export_dataset(dataset_repo, third, third_labels, **EXPORT_ARGS).version.pushed

    local_remote.unlink()
    parked.rename(local_remote)
    retried = export_dataset(dataset_repo, third, third_labels, **EXPORT_ARGS)

    assert not retried.created and retried.version.tag == "dataset/v3" and retried.version.pushed
    missing = (version_objects(dataset_repo, "dataset/v2") | version_objects(dataset_repo, "dataset/v3")) - before
    assert remote_objects(local_remote) == before | missing
    assert retried.objects_pushed == len(missing)
    assert [v.pushed for v in list_versions(dataset_repo)] == [True, True, True]
    assert dataset_repo.git("status", "--porcelain").strip() == ""
    assert verify_files(dataset_repo.path) == 4


def test_second_export_waits_for_the_lock_and_says_so(dataset_repo: DatasetRepo, sample_factory: SampleFactory) -> None:
    samples, labels = sample_factory.frames({"m1": [1, 2]})
    results = []
    with exclusive_lock(dataset_repo.lock_path, timeout_s=5):
        worker = threading.Thread(
            target=lambda: results.append(export_dataset(dataset_repo, samples, labels, **EXPORT_ARGS))
        )
        worker.start()
        time.sleep(1.0)
        assert worker.is_alive() and not results  # blocked behind the held lock
    worker.join(timeout=120)

    (result,) = results
    assert result.lock.waited and result.lock.waited_s >= 0.9
    assert result.lock.holder is not None and "pid" in result.lock.holder
    assert "waited" in result.report


def test_export_gives_up_after_the_lock_timeout(dataset_repo: DatasetRepo, sample_factory: SampleFactory) -> None:
    samples, labels = sample_factory.frames({"m1": [1]})
    with (
        exclusive_lock(dataset_repo.lock_path, timeout_s=5),
        pytest.raises(LockTimeoutError, match="held"),
    ):
        export_dataset(dataset_repo, samples, labels, lock_timeout_s=0.2, **EXPORT_ARGS)
    assert not dataset_repo.is_initialized()
