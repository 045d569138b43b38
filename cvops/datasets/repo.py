"""The dataset repository: a git repository whose data files DVC tracks and pushes to one remote.

git and DVC are run as subprocesses through their command lines, not through ``dvc.repo.Repo``:

- the CLI is DVC's documented, stable interface; ``dvc.repo.Repo`` is internal and changes between releases;
- a child process keeps DVC's global state (logging handlers, its repository lock, analytics daemons) out of the
  caller, which may be a notebook or a long-lived Dagster process, and a crash inside DVC cannot leave the
  caller half-configured;
- credentials go to the child's environment only, so they never touch a config file, an argument list or a log.

Each DVC call costs about half a second of start-up, so callers group their targets into one call.

The remote URL (a folder or ``s3://bucket/prefix``) is written to the committed ``.dvc/config`` so that a plain
``git clone`` plus ``dvc pull`` works; the S3 endpoint and credentials come from the standard AWS variables, or
from explicit :class:`RemoteSettings`, and are handed to DVC through its environment only.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import configobj

from cvops.datasets.dvc_tool import dvc_command
from cvops.datasets.stale_locks import DEFAULT_WAIT_S, clear_stale_locks
from cvops.errors import CvopsError
from cvops.io import write_text_atomic
from cvops.redaction import redact_text, redact_url
from cvops.settings import CvopsPaths

logger = logging.getLogger(__name__)

REMOTE_NAME = "storage"
GIT_REMOTE_NAME = "origin"
GIT_BRANCH = "main"
GIT_USER = ("cvops", "cvops@localhost")
# Folders under matches/ are DVC-tracked (one per match); only their .dvc files go to git. One pattern here
# instead of one line per match that `dvc add` would append (and `dvc remove` would have to take out again).
# It lives in matches/.gitignore: DVC looks for .dvc files only in folders git does not ignore, and it takes a
# root pattern such as /matches/*/ to ignore matches/ itself.
MATCHES_GITIGNORE = "/*/\n"
# Hardlinks keep the work tree free (no second copy of every image); DVC makes the linked files read-only.
CACHE_TYPE = "reflink,hardlink,copy"
_AWS_ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")


class DatasetRepoError(CvopsError):
    """A git or DVC command failed, or the dataset repository is not in a state cvops can work with."""


@dataclass(frozen=True)
class RemoteSettings:
    """Where DVC pushes and pulls: a local folder or ``s3://bucket/prefix``.

    Endpoint and credentials left ``None`` are taken by DVC (botocore) from the standard AWS variables
    (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE`` ...). Explicit
    values are passed to DVC through its environment and nowhere else; ``repr`` hides the secrets.
    """

    url: str
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.url:
            raise DatasetRepoError("the DVC remote URL is empty (set CVOPS_DVC_REMOTE)")
        if not self.is_s3 and "://" in self.url:
            raise DatasetRepoError(f"unsupported DVC remote {self.url!r}: expected a folder or s3://bucket/prefix")
        if not self.is_s3:
            object.__setattr__(self, "url", str(Path(self.url).expanduser().absolute()))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RemoteSettings:
        """The remote ``CVOPS_DVC_REMOTE`` names (default ``$CVOPS_HOME/dvc-remote``)."""
        env = dict(os.environ if environ is None else environ)
        return cls(url=CvopsPaths.from_env(env).dvc_remote)

    @property
    def is_s3(self) -> bool:
        return self.url.startswith("s3://")

    def child_environment(self) -> dict[str, str]:
        """Variables to add to DVC's environment for the explicit settings (empty when all come from AWS_*)."""
        pairs = {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }
        return {name: value for name, value in pairs.items() if value}

    def identity(self, environ: Mapping[str, str] | None = None) -> str:
        """A name for "this remote" that tells two S3 endpoints with the same bucket apart (no secrets in it)."""
        if not self.is_s3:
            return self.url
        env = os.environ if environ is None else environ
        endpoint = self.endpoint_url or next((env[v] for v in _AWS_ENDPOINT_VARIABLES if env.get(v)), "aws")
        return f"{self.url} @ {endpoint}"

    def secrets(self) -> list[str]:
        """Values that must never appear in an error message, taken from the settings and the environment."""
        values = [self.access_key_id, self.secret_access_key, self.session_token]
        values += [os.environ.get(name) for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")]
        return [value for value in values if value and len(value) >= 4]


@dataclass(frozen=True)
class CommandOutput:
    stdout: str
    stderr: str


class DatasetRepo:
    """A dataset repository on disk, the DVC remote it pushes data to and, optionally, the git remote it pushes
    its commits and tags to (``git_remote``: any URL git accepts; None: versions stay in this repository)."""

    def __init__(self, path: str | Path, remote: RemoteSettings, git_remote: str | None = None) -> None:
        self.path = Path(path).expanduser().absolute()
        self.remote = remote
        self.git_remote = git_remote or None

    @classmethod
    def from_paths(cls, paths: CvopsPaths | None = None) -> DatasetRepo:
        """The platform's repository (``$CVOPS_HOME/dataset-repo``) and remotes (``CVOPS_DVC_REMOTE``,
        ``CVOPS_DATASET_GIT_REMOTE``)."""
        paths = paths or CvopsPaths.from_env()
        return cls(paths.dataset_repo, RemoteSettings(url=paths.dvc_remote), paths.dataset_git_remote)

    def __repr__(self) -> str:
        git = f", git_remote={redact_url(self.git_remote)!r}" if self.git_remote else ""
        return f"DatasetRepo({str(self.path)!r}, remote={self.remote.url!r}{git})"

    @property
    def lock_path(self) -> Path:
        """Beside the repository, so that it can be taken before the repository exists."""
        return self.path.with_name(self.path.name + ".lock")

    @property
    def state_dir(self) -> Path:
        """cvops's own local bookkeeping (push ledger, source hashes): inside .git, so never committed."""
        return self.path / ".git" / "cvops"

    @property
    def cache_dir(self) -> Path:
        return self.path / ".dvc" / "cache"

    def is_initialized(self) -> bool:
        """git and DVC set up and the first commit made (an initialisation killed halfway is redone)."""
        if not ((self.path / ".git").is_dir() and (self.path / ".dvc").is_dir()):
            return False
        try:
            self.git("rev-parse", "--verify", "-q", "HEAD")
        except DatasetRepoError:
            return False
        return True

    # -- commands --------------------------------------------------------------------------------------

    def git(self, *args: str, cwd: Path | None = None, stdin: str | None = None) -> str:
        """Run git in the repository (or ``cwd``), with ``stdin`` as its input, and return its stdout."""
        argv = ["git", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", *args]
        return self._run(argv, cwd or self.path, label=f"git {args[0]}", stdin=stdin).stdout

    def dvc(self, *args: str, cwd: Path | None = None) -> CommandOutput:
        """Run DVC (see ``cvops.datasets.dvc_tool`` for which one) in the repository (or ``cwd``)."""
        return self._run([*dvc_command(), *args], cwd or self.path, label=f"dvc {args[0]}")

    def _run(self, argv: Sequence[str], cwd: Path, *, label: str, stdin: str | None = None) -> CommandOutput:
        env = {**os.environ, **self.remote.child_environment()}
        env.update(DVC_NO_ANALYTICS="1", DVC_STUDIO_OFFLINE="1", GIT_TERMINAL_PROMPT="0", DVC_IGNORE_ISATTY="1")
        started = time.monotonic()
        try:
            done = subprocess.run(argv, cwd=cwd, env=env, input=stdin, capture_output=True, text=True, check=False)
        except OSError as exc:
            raise DatasetRepoError(f"could not run {argv[0]!r} in {cwd}: {exc}") from exc
        logger.debug("%s in %s: exit %d after %.2f s", label, cwd, done.returncode, time.monotonic() - started)
        if done.returncode != 0:
            output = (done.stderr.strip() or done.stdout.strip()).splitlines()
            # DVC's own diagnosis is on its "ERROR:" lines; progress-bar debris around them says nothing.
            errors = [line.strip() for line in output if line.lstrip().startswith("ERROR")]
            message = self._redact("\n".join(errors or output[-5:])[-2000:])
            raise DatasetRepoError(f"`{label}` failed in {cwd} (exit {done.returncode}): {message}")
        return CommandOutput(done.stdout, done.stderr)

    def _redact(self, text: str) -> str:
        for secret in self.remote.secrets():
            text = text.replace(secret, "***")
        if self.git_remote:  # an https URL may carry a token: git repeats the URL in its errors
            text = redact_text(text.replace(self.git_remote, redact_url(self.git_remote)))
        return text

    # -- set-up ----------------------------------------------------------------------------------------

    def ensure_initialized(self, *, lock_wait_s: float = DEFAULT_WAIT_S) -> bool:
        """Make the repository unless it exists; True when it was recreated from the git remote.

        With a git remote that already holds versions (a fresh node, a lost volume), the repository is a clone
        of it with the data of its newest version pulled from the DVC remote, so that the next version builds
        on the published ones (see :meth:`_clone_published`). Otherwise, a new git + DVC repository with its
        first commit. Locks that a killed git or DVC left behind are cleared first (a live holder is waited
        for, at most ``lock_wait_s``).
        """
        clear_stale_locks(self.path, wait_s=lock_wait_s)
        if self.is_initialized():
            return False
        if self._git_remote_has_versions():
            self._clone_published()
            return True
        self._initialize()
        return False

    def _git_remote_has_versions(self) -> bool:
        """Whether the git remote has the dataset branch. An unreachable remote counts as empty: exports go on
        and their publishing fails (and is retried) as with any git push error, instead of stopping the
        platform; a remote that did hold versions then refuses the new history, never overwritten."""
        if not self.git_remote:
            return False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            heads = self.git("ls-remote", "--heads", self.git_remote, GIT_BRANCH, cwd=self.path.parent)
        except DatasetRepoError as exc:
            logger.warning("could not read the dataset git remote, starting a new repository: %s", exc)
            return False
        return bool(heads.strip())

    def _clone_published(self) -> None:
        """Clone the git remote (branch and tags) and ``dvc pull`` its newest version, in a staging folder that
        becomes the repository only once complete: a clone or pull killed halfway leaves no repository that
        looks finished with data missing from its cache. The first export afterwards re-reads each match's
        sample files once (their hashes are local knowledge, docs/datasets.md), reuses every part that did not
        change and pushes only what is new."""
        if self.path.exists() and any(self.path.iterdir()):
            raise DatasetRepoError(
                f"{self.path} exists but is not a dataset repository; move it away to recreate the repository "
                f"from the git remote {redact_url(self.git_remote or '')}"
            )
        staging = self.path.with_name(self.path.name + ".cloning")
        shutil.rmtree(staging, ignore_errors=True)  # what a killed clone left
        self.git("clone", "-q", "--branch", GIT_BRANCH, "--origin", GIT_REMOTE_NAME, self.git_remote or "",
                 str(staging), cwd=self.path.parent)  # fmt: skip
        self._set_git_identity(cwd=staging)
        self.dvc("pull", "-q", cwd=staging)  # from the remote the published versions were pushed to
        if self.path.exists():
            self.path.rmdir()
        staging.rename(self.path)
        logger.info("recreated dataset repository %s from %s", self.path, redact_url(self.git_remote or ""))

    def _initialize(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        if not (self.path / ".git").is_dir():
            self.git("init", "-q", "-b", "main")
        self._set_git_identity()
        if not (self.path / ".dvc").is_dir():
            self.dvc("init", "-q")
        write_text_atomic(self.path / "matches" / ".gitignore", MATCHES_GITIGNORE)
        self._write_dvc_config()
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", "Initialize the dataset repository")
        logger.info("initialised dataset repository %s (remote %s)", self.path, self.remote.url)

    def _set_git_identity(self, cwd: Path | None = None) -> None:
        """The author of cvops's commits and tags, in the repository's own git config."""
        self.git("config", "user.name", GIT_USER[0], cwd=cwd)
        self.git("config", "user.email", GIT_USER[1], cwd=cwd)

    def ensure_git_remote(self) -> None:
        """Point git's ``origin`` at ``self.git_remote`` (local configuration, never committed)."""
        if not self.git_remote:
            return
        try:
            current = self.git("remote", "get-url", GIT_REMOTE_NAME).strip()
        except DatasetRepoError:
            self.git("remote", "add", GIT_REMOTE_NAME, self.git_remote)
            return
        if current != self.git_remote:
            self.git("remote", "set-url", GIT_REMOTE_NAME, self.git_remote)

    def git_remote_identity(self) -> str | None:
        """The push ledger's name for the git remote (credentials masked), None without one."""
        return f"git {redact_url(self.git_remote)}" if self.git_remote else None

    def configured_remote_url(self) -> str | None:
        config = read_config(self.path / ".dvc" / "config")
        return config.get(f'remote "{REMOTE_NAME}"', {}).get("url")

    def ensure_remote(self) -> None:
        """Point the committed config at ``self.remote`` (the change is committed with the next version)."""
        if self.configured_remote_url() != self.remote.url:
            self._write_dvc_config()

    def _write_dvc_config(self) -> None:
        # configobj is the parser DVC itself reads .dvc/config with; writing it here saves one `dvc config`
        # process (~0.5 s) per setting. The file format is DVC's documented one.
        path = self.path / ".dvc" / "config"
        config = read_config(path)
        config.setdefault("core", {})
        config["core"].update({"remote": REMOTE_NAME, "analytics": "false", "check_update": "false"})
        config["cache"] = {**config.get("cache", {}), "type": CACHE_TYPE}
        config[f'remote "{REMOTE_NAME}"'] = {"url": self.remote.url}
        write_config(path, config)


def read_config(path: Path) -> configobj.ConfigObj:
    """A DVC config file (INI, read with configobj as DVC does); empty when the file does not exist."""
    return configobj.ConfigObj(str(path)) if path.is_file() else configobj.ConfigObj()


def write_config(path: Path, config: configobj.ConfigObj) -> None:
    config.filename = None  # so that write() returns the lines instead of writing in place
    write_text_atomic(path, "\n".join(config.write()) + "\n")
