"""Publishing versions: pushing the dataset repository's commits and ``dataset/vN`` tags to its git remote.

DVC's remote holds the data, the git remote holds what names it (``.dvc`` files, labels, ``export.yaml``): a team
member or a training job on another machine gets a version with ``dvc get``/``dvc import <git remote>
data --rev dataset/vN`` (docs/datasets.md). A version is **published** only when both pushes succeeded, so a tag
that others can see always names data they can pull: a version whose ``dvc push`` failed is held back, its tag
and the branch past it stay local until a later export pushes its data and then publishes it.

One ``git push --atomic`` sends the branch (at the newest version whose data is on the DVC remote) and the new
tags together: either all land or none does, and a remote that moved on (someone else pushed) is refused, never
overwritten. The push ledger records the versions published per git remote, as it does per DVC remote.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from cvops.datasets.push import PushLedger
from cvops.datasets.repo import GIT_BRANCH, GIT_REMOTE_NAME, DatasetRepo, DatasetRepoError
from cvops.datasets.versions import tag_for

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublishOutcome:
    """Versions this call published, and the push's error (None when it worked or there was nothing to do)."""

    published: tuple[int, ...]
    error: str | None


def publish_versions(repo: DatasetRepo, ledger: PushLedger, tags: Mapping[int, str]) -> PublishOutcome:
    """Push to the git remote every tagged version whose data is on the DVC remote and that is not there yet.

    ``tags``: version -> commit of the ``dataset/vN`` tags. A failure (remote down, refused) is returned, not
    raised: the versions stay valid locally and the next export publishes them.
    """
    key = repo.git_remote_identity()
    if key is None:
        return PublishOutcome((), None)
    on_dvc_remote = {version for version in ledger.pushed(repo.remote.identity()) if version in tags}
    ready = sorted(on_dvc_remote - ledger.pushed(key))
    if not ready:
        return PublishOutcome((), None)
    repo.ensure_git_remote()
    branch_at = tags[max(on_dvc_remote)]
    refspecs = [f"{branch_at}:refs/heads/{GIT_BRANCH}", *(f"refs/tags/{tag_for(v)}" for v in ready)]
    try:
        repo.git("push", "--atomic", "--quiet", GIT_REMOTE_NAME, *refspecs)
    except DatasetRepoError as exc:
        logger.error("publishing %s to the git remote failed: %s", ", ".join(map(tag_for, ready)), exc)
        return PublishOutcome((), str(exc))
    for version in ready:
        ledger.mark_pushed(key, version)
    logger.info("published %s to %s", ", ".join(map(tag_for, ready)), key.removeprefix("git "))
    return PublishOutcome(tuple(ready), None)
