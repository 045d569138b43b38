"""Pushing a version's objects to the remote, and remembering which versions are there.

``dvc push`` with no target re-reads every ``.dvc`` file and asks the remote about every object (about 10 s at
100k samples), so a version is pushed with explicit targets: the ``.dvc`` files that differ from the newest
version already on this remote. Their objects are all that can be missing; DVC still skips those the remote
has (another version or another task's dataset may have pushed them). With no version on the remote yet (a
first push, a new remote), every ``.dvc`` file of the version is a target.

The ledger (``.git/cvops/push-ledger.json``) records, per remote, the versions known to be complete there and
the versions still owed to it (created while it was the remote, push not yet done). It is local knowledge of
this repository: a clone does not have it.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from cvops.datasets.repo import REMOTE_NAME, DatasetRepo, DatasetRepoError
from cvops.io import write_text_atomic

logger = logging.getLogger(__name__)

LEDGER_FILE = "push-ledger.json"
_PUSHED_COUNT = re.compile(r"(\d+) files? pushed")


@dataclass
class PushLedger:
    """Per remote identity: versions complete on it, and versions owed to it."""

    path: Path
    remotes: dict[str, dict[str, list[int]]] = field(default_factory=dict)

    @classmethod
    def load(cls, repo: DatasetRepo) -> PushLedger:
        path = repo.state_dir / LEDGER_FILE
        try:
            remotes = json.loads(path.read_text())
        except FileNotFoundError:
            remotes = {}
        return cls(path=path, remotes=remotes)

    def _entry(self, remote: str) -> dict[str, list[int]]:
        return self.remotes.setdefault(remote, {"pushed": [], "pending": []})

    def pushed(self, remote: str) -> set[int]:
        return set(self.remotes.get(remote, {}).get("pushed", []))

    def pending(self, remote: str) -> set[int]:
        return set(self.remotes.get(remote, {}).get("pending", []))

    def mark_pending(self, remote: str, version: int) -> None:
        entry = self._entry(remote)
        entry["pending"] = sorted({*entry["pending"], version})
        self._save()

    def mark_pushed(self, remote: str, version: int) -> None:
        entry = self._entry(remote)
        entry["pushed"] = sorted({*entry["pushed"], version})
        entry["pending"] = sorted(set(entry["pending"]) - {version})
        self._save()

    def forget_pending(self, remote: str, version: int) -> None:
        entry = self._entry(remote)
        entry["pending"] = sorted(set(entry["pending"]) - {version})
        self._save()

    def _save(self) -> None:
        write_text_atomic(self.path, json.dumps(self.remotes, indent=1, sort_keys=True))


@dataclass(frozen=True)
class PushOutcome:
    """What a push did: ``objects_pushed`` is DVC's own count (``None`` when it printed none)."""

    pushed: bool
    targets: int
    objects_pushed: int | None
    error: str | None


def push_targets(repo: DatasetRepo, commit: str, base_commit: str | None) -> list[str]:
    """The ``.dvc`` files of ``commit`` whose objects may be missing from a remote that holds ``base_commit``."""
    if base_commit is None:
        listing = repo.git("ls-tree", "-r", "--name-only", commit)
    else:
        listing = repo.git("diff", "--name-only", "--no-renames", "--diff-filter=AM", base_commit, commit, "--")
    return sorted(name for name in listing.splitlines() if name.endswith(".dvc"))


def push_commit(repo: DatasetRepo, commit: str, base_commit: str | None) -> PushOutcome:
    """Push the objects of ``commit`` that a remote holding ``base_commit`` may lack.

    DVC pushes what the work tree's ``.dvc`` files name, so for a commit other than HEAD (an older version
    whose push failed) its ``.dvc`` files are checked out for the push and HEAD's restored afterwards; the data
    folders are not touched (DVC reads the objects from the cache). A failure (remote down, no permission) is
    returned, not raised: the version stays valid locally and the next export pushes what is missing.
    """
    targets = push_targets(repo, commit, base_commit)
    if not targets:
        return PushOutcome(pushed=True, targets=0, objects_pushed=0, error=None)
    at_head = repo.git("rev-parse", "HEAD").strip() == commit
    try:
        if not at_head:
            repo.git("checkout", "-q", commit, "--", *targets)
        output = repo.dvc("push", "-r", REMOTE_NAME, *targets)
    except DatasetRepoError as exc:
        logger.error("push of %s to %s failed: %s", commit[:10], repo.remote.url, exc)
        return PushOutcome(pushed=False, targets=len(targets), objects_pushed=None, error=str(exc))
    finally:
        if not at_head:
            repo.git("reset", "-q", "--hard", "HEAD")
    counted = _PUSHED_COUNT.search(output.stdout + output.stderr)
    objects = int(counted.group(1)) if counted else (0 if "up to date" in output.stdout else None)
    return PushOutcome(pushed=True, targets=len(targets), objects_pushed=objects, error=None)
