"""Git and DVC locks left behind by a killed process: found, and cleared when their owner is gone.

``git commit`` killed half-way leaves ``.git/index.lock`` behind, and every later git command in the repository
fails ("Another git process seems to be running") until someone deletes it by hand. Git writes no owner into its
lock files, so the owner is looked for among the live processes (psutil): a git or DVC process whose working
directory is inside the repository, that has a file of it open, or whose command line or ``GIT_DIR`` names it.
None found: the lock is stale and is removed with a warning. One found: it is waited for, like another export,
for at most ``wait_s`` seconds.

DVC's repository lock (``.dvc/tmp/lock``) is an ``flock`` that the kernel releases when its holder dies, so it is
never stale; a held one is waited for the same way. DVC's read/write lock file (``.dvc/tmp/rwlock``) lists the
pids of its holders: entries of dead pids are dropped (with a warning) before DVC runs.

This runs under the export's own lock (:mod:`cvops.datasets.lock`), so no other cvops export is using the
repository: a git process in it is the user's or a leftover.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import psutil

from cvops.errors import CvopsError

logger = logging.getLogger(__name__)

DEFAULT_WAIT_S = 600.0
"""How long a lock held by a live process is waited for (as long as another export's lock, by default)."""
GIT_LOCKS = ("index.lock", "HEAD.lock", "config.lock", "packed-refs.lock", "shallow.lock", "ORIG_HEAD.lock")
_OWNER_NAMES = ("git", "dvc")
_POLL_S = 0.2


class StaleLockError(CvopsError):
    """A live process held a lock of the dataset repository for longer than the caller would wait."""


def clear_stale_locks(repo: Path, *, wait_s: float) -> list[Path]:
    """Remove the git lock files of ``repo`` whose owner is gone, drop dead holders from DVC's rwlock, and wait
    (at most ``wait_s``) for locks a live process holds. Returns the lock files removed."""
    removed: list[Path] = []
    deadline = time.monotonic() + wait_s
    while True:
        held = []
        locks = git_lock_files(repo)
        owners = lock_owners(repo) if locks else []
        for lock in locks:
            if owners:
                held.append(f"{lock} (held by {owners[0]})")
                continue
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()
                removed.append(lock)
                logger.warning("removed the stale git lock %s: no live git or DVC process uses %s", lock, repo)
        if _dvc_lock_held(repo):
            held.append(f"{repo / '.dvc' / 'tmp' / 'lock'} (held by a running DVC)")
        if not held:
            break
        if time.monotonic() >= deadline:
            raise StaleLockError(f"the dataset repository is locked: {'; '.join(held)}; waited {wait_s:.0f} s")
        time.sleep(_POLL_S)
    _drop_dead_rwlock_holders(repo)
    return removed


def git_lock_files(repo: Path) -> list[Path]:
    """The lock files git leaves in ``repo/.git`` (index, HEAD, config, refs ...)."""
    git_dir = repo / ".git"
    if not git_dir.is_dir():
        return []
    locks = [git_dir / name for name in GIT_LOCKS if (git_dir / name).is_file()]
    refs = git_dir / "refs"
    if refs.is_dir():
        locks += sorted(path for path in refs.rglob("*.lock") if path.is_file())
    return locks


def lock_owners(repo: Path) -> list[str]:
    """Live git or DVC processes (other than this one) that use ``repo``, described as ``pid N: command``."""
    repo = repo.resolve()
    owners = []
    for process in psutil.process_iter(["pid", "name", "cmdline"]):
        with contextlib.suppress(psutil.Error):
            if process.pid == os.getpid() or not _is_git_or_dvc(process):
                continue
            if _uses(process, repo):
                owners.append(f"pid {process.pid}: {' '.join(process.info['cmdline'] or [])[:200]}")
    return owners


def _is_git_or_dvc(process: psutil.Process) -> bool:
    name = (process.info.get("name") or "").lower()
    command = [Path(part).name.lower() for part in (process.info.get("cmdline") or [])[:3]]
    return any(owner in name for owner in _OWNER_NAMES) or any(part.startswith(_OWNER_NAMES) for part in command)


def _uses(process: psutil.Process, repo: Path) -> bool:
    with contextlib.suppress(psutil.Error, OSError):
        if Path(process.cwd()).resolve().is_relative_to(repo):
            return True
    if any(str(repo) in part for part in process.info.get("cmdline") or []):
        return True
    with contextlib.suppress(psutil.Error):
        environment = process.environ()
        for variable in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
            if environment.get(variable) and Path(environment[variable]).resolve().is_relative_to(repo):
                return True
    with contextlib.suppress(psutil.Error):
        return any(Path(file.path).is_relative_to(repo) for file in process.open_files())
    return False


def _dvc_lock_held(repo: Path) -> bool:
    """Whether a live process holds DVC's repository lock (an ``flock``; probing takes and drops it at once)."""
    path = repo / ".dvc" / "tmp" / "lock"
    if not path.is_file():
        return False
    with _flocked(path, blocking=False) as taken:
        return not taken


def _drop_dead_rwlock_holders(repo: Path) -> None:
    path = repo / ".dvc" / "tmp" / "rwlock"
    if not path.is_file():
        return
    with _flocked(path.with_name("rwlock.lock"), blocking=True):
        try:
            table = json.loads(path.read_text())
        except (OSError, ValueError):
            return  # DVC reports a damaged rwlock itself, naming it
        changed = False
        for mode in ("read", "write"):
            entries = table.get(mode, {})
            for target in list(entries):
                holders = entries[target] if isinstance(entries[target], list) else [entries[target]]
                alive = [h for h in holders if isinstance(h, dict) and psutil.pid_exists(int(h.get("pid", 0)))]
                if len(alive) != len(holders):
                    changed = True
                    dead = [h.get("pid") for h in holders if h not in alive and isinstance(h, dict)]
                    logger.warning("dropped DVC's %s lock on %s held by dead process(es) %s", mode, target, dead)
                    if not alive:
                        del entries[target]
                    else:
                        entries[target] = alive if mode == "read" else alive[0]
        if changed:
            path.write_text(json.dumps(table))


@contextlib.contextmanager
def _flocked(path: Path, *, blocking: bool) -> Iterator[bool]:
    """Hold ``path``'s flock for the block (the lock DVC's ``zc.lockfile`` takes); yield whether it was taken."""
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
