"""Dataset versions as they exist in the repository: listing them, reading them back, checking one out.

A version is a commit tagged ``dataset/vN`` whose ``export.yaml`` says ``version: N``. A commit without its
tag is an export that was interrupted before it finished; it is never listed (the next export finishes it).
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from cvops.datasets.layout import (
    EXPORT_YAML,
    IMAGES_DIR,
    MATCHES_DIR,
    METADATA_TARGETS,
    dataset_sample_rows,
    dvc_file_for,
    tag_for,
)
from cvops.datasets.push import PushLedger
from cvops.datasets.reader import open_version
from cvops.datasets.repo import REMOTE_NAME, DatasetRepo, DatasetRepoError, read_config, write_config
from cvops.errors import CvopsError

logger = logging.getLogger(__name__)

TAG_PREFIX = "dataset/v"


@dataclass(frozen=True)
class DatasetVersion:
    """One exported version: a row of the catalog table ``dataset_versions``.

    ``bytes_new`` counts the bytes of sample images that the previous version did not hold (what a machine
    with the previous version must download); ``pushed`` says whether all its objects are known to be on the
    configured remote; ``published``, whether its tag is also on the git remote (``CVOPS_DATASET_GIT_REMOTE``)
    after the data: only then can others ``dvc get`` it (never without a git remote).
    """

    version: int
    tag: str
    git_commit: str
    created_at: datetime
    n_samples: int
    n_train: int
    n_val: int
    bytes_new: int
    pushed: bool
    config: dict[str, Any]
    published: bool = False

    def to_row(self) -> dict[str, Any]:
        """The catalog row (``config`` as JSON text, which DuckDB's JSON functions can query)."""
        return {
            "version": self.version,
            "tag": self.tag,
            "git_commit": self.git_commit,
            "created_at": self.created_at,
            "n_samples": self.n_samples,
            "n_train": self.n_train,
            "n_val": self.n_val,
            "bytes_new": self.bytes_new,
            "pushed": self.pushed,
            "config": json.dumps(self.config, sort_keys=True),
            "published": self.published,
        }


def versions_frame(versions: list[DatasetVersion]) -> pd.DataFrame:
    """``dataset_versions`` rows as a DataFrame (empty with the right columns when there are none)."""
    columns = [*DatasetVersion.__dataclass_fields__]
    return pd.DataFrame([version.to_row() for version in versions], columns=columns)


def version_from_export(
    record: dict[str, Any], git_commit: str, pushed: bool, published: bool = False
) -> DatasetVersion:
    counts = record["counts"]
    return DatasetVersion(
        version=int(record["version"]),
        tag=tag_for(int(record["version"])),
        git_commit=git_commit,
        created_at=datetime.fromisoformat(str(record["created_at"])),
        n_samples=int(counts["samples"]),
        n_train=int(counts["train"]),
        n_val=int(counts["val"]),
        bytes_new=int(record["bytes_new"]),
        pushed=pushed,
        config=dict(record.get("config") or {}),
        published=pushed and published,
    )


def read_export_record(repo: DatasetRepo, rev: str) -> dict[str, Any] | None:
    """``export.yaml`` at ``rev`` (None for the initial commit, which has none)."""
    try:
        text = repo.git("show", f"{rev}:{EXPORT_YAML}")
    except DatasetRepoError:
        return None
    return yaml.safe_load(text)


def tagged_versions(repo: DatasetRepo) -> dict[int, str]:
    """version -> commit of every ``dataset/vN`` tag."""
    listing = repo.git("for-each-ref", "--format=%(refname:short) %(objectname) %(*objectname)", "refs/tags/dataset")
    versions = {}
    for line in listing.splitlines():
        name, target, peeled = [*line.split(" "), ""][:3]
        if name.startswith(TAG_PREFIX) and name[len(TAG_PREFIX) :].isdigit():
            versions[int(name[len(TAG_PREFIX) :])] = peeled or target
    return versions


def list_versions(repo: DatasetRepo) -> list[DatasetVersion]:
    """Every finished version, oldest first, read from the tags and each tagged ``export.yaml``."""
    if not repo.is_initialized():
        return []
    ledger = PushLedger.load(repo)
    pushed = ledger.pushed(repo.remote.identity())
    git_key = repo.git_remote_identity()
    published = ledger.pushed(git_key) if git_key else set()
    versions = []
    for version, commit in sorted(tagged_versions(repo).items()):
        record = read_export_record(repo, commit)
        if record is None:
            raise CvopsError(f"{repo.path}: tag {tag_for(version)} points at a commit without {EXPORT_YAML}")
        versions.append(version_from_export(record, commit, version in pushed, version in published))
    return versions


def latest_version(repo: DatasetRepo) -> DatasetVersion | None:
    versions = list_versions(repo)
    return versions[-1] if versions else None


def version_samples(repo: DatasetRepo, version: int) -> pd.DataFrame:
    """``dataset_samples`` rows of one version (version, match_id, frame, split, md5, path), from git and the
    DVC cache (no checkout), whatever the version's layout."""
    commit = tagged_versions(repo).get(version)
    if commit is None:
        raise CvopsError(f"{repo.path}: no dataset version {version} (no tag {tag_for(version)})")
    return dataset_sample_rows(open_version(repo, commit).manifest(), version)


def checkout_version(repo: DatasetRepo, version: int, dest: str | Path) -> Path:
    """Put version ``version`` into ``dest`` (a clone of the dataset repository) and pull its data.

    An empty or missing ``dest`` becomes a new clone; an existing clone is moved to the version, so its DVC
    cache is reused and ``dvc pull`` transfers only the objects the clone lacks. Match folders of the previous
    checkout that the version does not hold are removed, so ``images/`` holds exactly the version's samples.
    """
    dest = Path(dest).expanduser().absolute()
    tag = tag_for(version)
    if version not in tagged_versions(repo):
        raise CvopsError(f"{repo.path}: no dataset version {version} (no tag {tag})")
    if not dest.exists() or not any(dest.iterdir()):
        dest.mkdir(parents=True, exist_ok=True)
        repo.git("clone", "-q", "--no-checkout", str(repo.path), str(dest), cwd=dest.parent)
    elif (dest / ".git").is_dir() and (dest / ".dvc").is_dir():
        repo.git("fetch", "-q", "--force", "--tags", str(repo.path), cwd=dest)
    else:
        raise CvopsError(f"{dest} exists and is not a clone of a dataset repository: choose an empty folder")
    repo.git("checkout", "-q", "--force", "--detach", tag, cwd=dest)
    repo.git("clean", "-q", "-f", "-d", cwd=dest)
    _remove_untracked_match_folders(dest)
    _point_clone_at_remote(repo, dest)
    repo.dvc("pull", "-q", "--force", "-r", REMOTE_NAME, cwd=dest)
    logger.info("checked out %s into %s", tag, dest)
    return dest


def _remove_untracked_match_folders(dest: Path) -> None:
    """Data folders and files the checked-out version does not track (DVC-tracked data is git-ignored, so
    ``git clean`` leaves what an earlier checkout pulled), in either layout."""
    for folder in (dest / MATCHES_DIR, dest / IMAGES_DIR):
        if folder.is_dir():
            for entry in folder.iterdir():
                if entry.is_dir() and not (folder / f"{entry.name}.dvc").is_file():
                    shutil.rmtree(entry)
    for target in METADATA_TARGETS:
        entry = dest / target
        if entry.exists() and not (dest / dvc_file_for(target)).is_file():
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def _point_clone_at_remote(repo: DatasetRepo, dest: Path) -> None:
    """If the remote moved since the version was committed, override its URL in the clone's config.local."""
    section = f'remote "{REMOTE_NAME}"'
    committed = read_config(dest / ".dvc" / "config").get(section, {}).get("url")
    local_path = dest / ".dvc" / "config.local"
    local = read_config(local_path)
    if committed == repo.remote.url and section not in local:
        return
    local[section] = {"url": repo.remote.url}
    write_config(local_path, local)
