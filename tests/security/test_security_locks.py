"""A git or DVC lock left by a killed process is cleared with a warning; a live one is waited for."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cvops.datasets.repo import DatasetRepo, RemoteSettings
from cvops.datasets.stale_locks import StaleLockError, clear_stale_locks

GIT = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", "-c", "commit.gpgsign=false"]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A dataset repository (git and DVC) whose pre-commit hook sleeps: ``git commit -a`` holds .git/index.lock
    while the hook runs, which is when the tests kill it (or not)."""
    path = tmp_path / "dataset-repo"
    DatasetRepo(path, RemoteSettings(url=str(tmp_path / "remote"))).ensure_initialized()
    (path / "notes.txt").write_text("one\n")
    subprocess.run([*GIT, "add", "notes.txt"], cwd=path, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", "notes"], cwd=path, check=True)
    hook = path / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\nsleep 30\n")
    hook.chmod(0o755)
    (path / "notes.txt").write_text("two\n")
    return path


@pytest.fixture
def committing(repo: Path) -> Iterator[subprocess.Popen]:
    """``git commit -a`` running in its own process group, stopped at its pre-commit hook with the index locked."""
    process = subprocess.Popen([*GIT, "commit", "-a", "-q", "-m", "two"], cwd=repo, start_new_session=True)
    lock = repo / ".git" / "index.lock"
    for _ in range(100):
        if lock.exists():
            break
        time.sleep(0.05)
    assert lock.exists()
    yield process
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)  # the group this fixture started: git and its hook
        process.wait()


def test_a_lock_left_by_a_killed_git_is_cleared_with_a_warning(repo, committing, caplog) -> None:
    os.killpg(committing.pid, signal.SIGKILL)
    committing.wait()
    assert (repo / ".git" / "index.lock").exists()
    blocked = subprocess.run([*GIT, "commit", "-a", "-q", "--no-verify", "-m", "x"], cwd=repo, capture_output=True)
    assert blocked.returncode != 0 and b"index.lock" in blocked.stderr  # what every export hit before

    with caplog.at_level(logging.WARNING):
        DatasetRepo(repo, RemoteSettings(url=str(repo.parent / "remote"))).ensure_initialized()
    assert "removed the stale git lock" in caplog.text and "index.lock" in caplog.text
    done = subprocess.run([*GIT, "commit", "-a", "-q", "--no-verify", "-m", "x"], cwd=repo, capture_output=True)
    assert done.returncode == 0, done.stderr


def test_a_lock_held_by_a_live_git_is_waited_for(repo, committing) -> None:
    with pytest.raises(StaleLockError, match=rf"index.lock \(held by pid {committing.pid}: git"):
        clear_stale_locks(repo, wait_s=0.5)
    assert (repo / ".git" / "index.lock").exists()  # not touched while its owner lives


def test_dead_holders_are_dropped_from_dvcs_rwlock(repo, caplog) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    rwlock = repo / ".dvc" / "tmp" / "rwlock"
    rwlock.parent.mkdir(parents=True, exist_ok=True)
    table = {
        "write": {str(repo / "images"): {"pid": dead.pid, "cmd": "dvc add images"}},
        "read": {str(repo / "labels"): [{"pid": os.getpid(), "cmd": "dvc push"}, {"pid": dead.pid, "cmd": "x"}]},
    }
    rwlock.write_text(json.dumps(table))
    with caplog.at_level(logging.WARNING):
        clear_stale_locks(repo, wait_s=0)
    assert json.loads(rwlock.read_text()) == {
        "write": {},
        "read": {str(repo / "labels"): [{"pid": os.getpid(), "cmd": "dvc push"}]},
    }
    assert "dead process" in caplog.text
