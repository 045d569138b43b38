"""``cvops dataset``: the dataset versions of the dataset repository, and any of them as plain files."""

from __future__ import annotations

import re
from pathlib import Path

import click

from cvops.errors import InputError

_VERSION = re.compile(r"^(?:dataset/)?v?(\d+)$")


def _version_number(text: str) -> int:
    found = _VERSION.match(text.strip())
    if found is None:
        raise InputError(f"expected a dataset version such as 3, v3 or dataset/v3, got {text!r}", field="VERSION")
    return int(found.group(1))


def _repo(path: str | None):
    from cvops.datasets import DatasetRepo, RemoteSettings
    from cvops.settings import CvopsPaths

    paths = CvopsPaths.from_env()
    return DatasetRepo(path or paths.dataset_repo, RemoteSettings(url=paths.dvc_remote))


_REPO_OPTION = click.option(
    "--repo",
    "repo_path",
    type=click.Path(file_okay=False),
    default=None,
    help="The dataset repository (default: $CVOPS_HOME/dataset-repo).",
)


@click.group("dataset")
def dataset() -> None:
    """Dataset versions (git tags dataset/vN whose data DVC stores): list them, write one as plain files."""


@dataset.command("list")
@_REPO_OPTION
def list_command(repo_path: str | None) -> None:
    """Every dataset version: tag, samples, bytes new, whether it is pushed."""
    from tabulate import tabulate

    from cvops.datasets import list_versions

    versions = list_versions(_repo(repo_path))
    if not versions:
        click.echo("no dataset versions")
        return
    rows = [
        [v.tag, v.created_at.strftime("%Y-%m-%d %H:%M"), v.n_samples, v.n_train, v.n_val, v.bytes_new, v.pushed]
        for v in versions
    ]
    click.echo(tabulate(rows, headers=["tag", "created (UTC)", "samples", "train", "val", "bytes new", "pushed"]))


@dataset.command("files")
@click.argument("version")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="A new (or empty) folder to write images/, manifest.parquet, labels/ and annotations/ (COCO) into.",
)
@_REPO_OPTION
def files(version: str, out: Path, repo_path: str | None) -> None:
    """Write dataset VERSION (3, v3 or dataset/v3) as plain files: one JPEG per sample and COCO annotations.

    The data is read from the repository's DVC cache, without a checkout; the folder written is the `files`
    layout, which training reads too.
    """
    from cvops.datasets import open_version, tagged_versions
    from cvops.datasets.files import write_version_files
    from cvops.datasets.layout import tag_for

    number = _version_number(version)
    repo = _repo(repo_path)
    commit = tagged_versions(repo).get(number)
    if commit is None:
        raise InputError(f"{repo.path}: no dataset version {number} (no tag {tag_for(number)})", field="VERSION")
    count = write_version_files(open_version(repo, commit), out)
    click.echo(f"wrote {count} images of {tag_for(number)} to {out}")
