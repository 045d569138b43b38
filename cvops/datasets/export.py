"""Making a dataset version: samples + labels in, a tagged commit with its data pushed by DVC out.

The steps, under the repository lock:

1. reset the work tree's git-tracked files to HEAD (the exporter owns the work tree; this undoes whatever an
   interrupted export left) and finish interrupted exports: a commit that has no tag yet is pushed and tagged,
   a version whose push failed is pushed again;
2. compare the candidate with the latest version: same manifest and labels -> no new version;
3. rebuild only the match folders whose samples changed, remove dropped ones, write the metadata files;
4. ``dvc add`` those folders and the metadata in one call; write ``export.yaml``; git commit;
5. ``dvc push`` the ``.dvc`` files that changed since the newest version already on the remote;
6. tag ``dataset/vN``. The tag is the last step: a run killed anywhere before it leaves no tag, so no half
   version is ever listed, and the next run resumes from the commit (or redoes the uncommitted work).

A push that fails does not undo the version: it is tagged, reported ``pushed=False`` with the error, and the
next export pushes what is missing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import yaml

from cvops.errors import InputError
from cvops.io import write_parquet_atomic, write_text_atomic

from .coco import coco_json
from .inputs import validate_labels, validate_samples
from .layout import (
    ANNOTATIONS_DIR,
    DATASET_SAMPLE_COLUMNS,
    EXPORT_YAML,
    IMAGES_DIR,
    LABEL_SCHEMA,
    LABELS_DIR,
    MANIFEST,
    MANIFEST_SCHEMA,
    METADATA_TARGETS,
    SPLIT_LABEL_SCHEMA,
    SPLITS,
    annotations_file,
    dvc_file_for,
    dvc_out_md5,
    image_name,
    image_relpath,
    labels_file,
    table_from_frame,
    tag_for,
)
from .lock import LockWait, exclusive_lock
from .push import PushLedger, PushOutcome, push_commit
from .repo import DatasetRepo, DatasetRepoError
from .report import export_markdown, preview_markdown, unchanged_markdown
from .sample_info import describe_images
from .versions import (
    DatasetVersion,
    labels_table_at,
    latest_version,
    list_versions,
    manifest_table_at,
    read_export_record,
    tagged_versions,
    version_from_export,
)

logger = logging.getLogger(__name__)

DEFAULT_LOCK_TIMEOUT_S = 6 * 3600.0
SAMPLE_INFO_FILE = "sample-info.parquet"


@dataclass(frozen=True)
class ExportResult:
    """What an export did.

    ``version`` is the new version, or the latest one when nothing changed (``created`` is False then).
    ``samples`` are its ``dataset_samples`` rows. ``completed`` are versions that interrupted earlier exports
    had committed and this run finished (pushed and tagged): catalog them too. ``timings`` are the seconds
    each step took (``candidate``, ``work_tree``, ``dvc_add``, ``commit``, ``push``, ...).
    """

    version: DatasetVersion
    samples: pd.DataFrame
    created: bool
    report: str
    lock: LockWait
    push_error: str | None
    objects_pushed: int | None
    completed: tuple[DatasetVersion, ...]
    dvc_ids: dict[str, str]
    timings: dict[str, float]


@contextlib.contextmanager
def _timed(timings: dict[str, float], step: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        timings[step] = round(time.monotonic() - started, 3)


@dataclass(frozen=True)
class Candidate:
    """The version an export would make, in the canonical form its files are written and compared in."""

    manifest: pa.Table
    labels: pa.Table
    images: pd.DataFrame

    def same_content(self, manifest: pa.Table, labels: pa.Table) -> bool:
        return self.manifest.equals(manifest) and self.labels.equals(labels)


def build_candidate(samples: pd.DataFrame, labels: pd.DataFrame, sample_info_file: Path) -> Candidate:
    """Join checked samples with their image facts (md5, size) and boxes; drop boxes of frames not exported."""
    info = describe_images(samples["source_path"], sample_info_file)
    images = samples.merge(info.rename(columns={"path": "source_path"}), on="source_path", how="left")
    images["path"] = [image_relpath(m, f) for m, f in zip(images["match_id"], images["frame"], strict=True)]
    boxes = labels.merge(samples[["match_id", "frame", "split"]], on=["match_id", "frame"], how="inner")
    counts = boxes.groupby(["match_id", "frame"]).size().rename("n_boxes").reset_index()
    images = images.merge(counts, on=["match_id", "frame"], how="left")
    images["n_boxes"] = images["n_boxes"].fillna(0).astype("int64")
    images = images.sort_values(["match_id", "frame"], kind="stable").reset_index(drop=True)
    boxes = boxes.sort_values(["match_id", "frame", "track_id"], kind="stable").reset_index(drop=True)
    return Candidate(
        manifest=table_from_frame(images, MANIFEST_SCHEMA),
        labels=table_from_frame(boxes, SPLIT_LABEL_SCHEMA),
        images=images,
    )


@dataclass(frozen=True)
class _RecordFields:
    """What the caller says about the export, recorded in export.yaml as given."""

    config: dict[str, Any]
    code_commit: str
    sources: dict[str, Any]


def _checked_record_fields(config: Mapping[str, Any], sources: Mapping[str, Any]) -> tuple[dict, dict]:
    """config and sources as they will read back from export.yaml (so a listed version equals the result)."""
    try:
        return yaml.safe_load(yaml.safe_dump(dict(config))), yaml.safe_load(yaml.safe_dump(dict(sources)))
    except yaml.YAMLError as exc:
        raise InputError(f"the export config must hold plain values (YAML): {exc}", field="config") from None


def export_preview(repo: DatasetRepo, samples: pd.DataFrame) -> str:
    """Markdown comparing the candidate samples with the latest version, per group (reads nothing but git/cache).

    Uses only match_id, frame, split and group_key of ``samples``; no image is read.
    """
    candidate = validate_samples(samples)
    latest = latest_version(repo)
    if latest is None:
        previous = pd.DataFrame({"match_id": [], "frame": [], "group_key": []})
    else:
        previous = manifest_table_at(repo, latest.git_commit).to_pandas()
    return preview_markdown(previous, candidate, latest.tag if latest else None)


def export_dataset(
    repo: DatasetRepo,
    samples: pd.DataFrame,
    labels: pd.DataFrame,
    *,
    config: Mapping[str, Any],
    code_commit: str,
    sources: Mapping[str, Any],
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
) -> ExportResult:
    """Make the next dataset version from ``samples`` and ``labels`` (see the module docstring for the steps).

    ``samples``: match_id, frame, split ('train'/'val'), group_key, source_path (a JPEG).
    ``labels``: match_id, frame, track_id, role, x, y, w, h (pixels, top-left; video frame numbering).
    """
    checked_samples = validate_samples(samples)
    checked_labels = validate_labels(labels)
    config, sources = _checked_record_fields(config, sources)
    timings: dict[str, float] = {}
    with exclusive_lock(repo.lock_path, timeout_s=lock_timeout_s) as wait:
        with _timed(timings, "recover"):
            repo.ensure_initialized()
            _reset_work_tree(repo)
            repo.ensure_remote()
            ledger = PushLedger.load(repo)
            recovery = _finish_interrupted_exports(repo, ledger)
        with _timed(timings, "candidate"):
            candidate = build_candidate(checked_samples, checked_labels, repo.state_dir / SAMPLE_INFO_FILE)
        latest = latest_version(repo)
        if latest is not None:
            head = repo.git("rev-parse", "HEAD").strip()
            if head != latest.git_commit:
                raise DatasetRepoError(
                    f"{repo.path}: HEAD ({head[:10]}) is not the latest version {latest.tag}: "
                    "the dataset repository has commits cvops did not make; remove them first"
                )
            previous_manifest = manifest_table_at(repo, latest.git_commit)
            if candidate.same_content(previous_manifest, labels_table_at(repo, latest.git_commit)):
                _tidy_work_tree(repo, set(candidate.images["match_id"]))
                return _unchanged_result(latest, previous_manifest, wait, recovery, timings)
        else:
            previous_manifest = MANIFEST_SCHEMA.empty_table()
        return _create_version(
            repo,
            ledger,
            candidate,
            previous_manifest,
            latest,
            _RecordFields(config=config, code_commit=code_commit, sources=sources),
            wait,
            recovery.completed,
            timings,
        )


# -- recovery --------------------------------------------------------------------------------------------


def _reset_work_tree(repo: DatasetRepo) -> None:
    """Undo what an interrupted export left in git-tracked files; data folders are handled per match later."""
    repo.git("reset", "-q", "--hard", "HEAD")
    repo.git("clean", "-q", "-f", "-d")


@dataclass(frozen=True)
class Recovery:
    """What finishing interrupted exports did: versions it tagged, objects it pushed, the last push error."""

    completed: tuple[DatasetVersion, ...]
    objects_pushed: int | None
    push_error: str | None


def _finish_interrupted_exports(repo: DatasetRepo, ledger: PushLedger) -> Recovery:
    """Tag a committed-but-untagged version, and push versions still owed to the remote."""
    remote = repo.remote.identity()
    tags = tagged_versions(repo)
    head_record = read_export_record(repo, "HEAD")
    finished = []
    outcomes = []
    if head_record is not None and int(head_record["version"]) not in tags:
        version = int(head_record["version"])
        commit = repo.git("rev-parse", "HEAD").strip()
        logger.warning("finishing dataset v%d: committed by an export that stopped before tagging it", version)
        ledger.mark_pending(remote, version)
        outcomes.append(_push_version(repo, ledger, version, commit, tags))
        _tag_version(repo, version, _commit_message(head_record))
        tags[version] = commit
        finished.append(version)
    for version in sorted(ledger.pending(remote)):
        if version not in tags:
            ledger.forget_pending(remote, version)  # an export killed before its commit: nothing to push
        elif version not in finished:
            logger.warning("pushing dataset v%d, whose earlier push did not complete", version)
            outcomes.append(_push_version(repo, ledger, version, tags[version], tags))
    by_version = {version.version: version for version in list_versions(repo)}
    counts = [outcome.objects_pushed for outcome in outcomes if outcome.objects_pushed is not None]
    return Recovery(
        completed=tuple(by_version[version] for version in finished),
        objects_pushed=sum(counts) if counts else None,
        push_error=next((outcome.error for outcome in reversed(outcomes) if outcome.error), None),
    )


def _push_version(
    repo: DatasetRepo, ledger: PushLedger, version: int, commit: str, tags: Mapping[int, str]
) -> PushOutcome:
    remote = repo.remote.identity()
    on_remote = [v for v in ledger.pushed(remote) if v < version and v in tags]
    base_commit = tags[max(on_remote)] if on_remote else None
    outcome = push_commit(repo, commit, base_commit)
    if outcome.pushed:
        ledger.mark_pushed(remote, version)
        logger.info("pushed dataset v%d: %s object(s) uploaded", version, outcome.objects_pushed)
    return outcome


def _tag_version(repo: DatasetRepo, version: int, message: str) -> None:
    repo.git("tag", "-a", tag_for(version), "-m", message, "HEAD")


# -- a new version ---------------------------------------------------------------------------------------


def _commit_message(record: Mapping[str, Any]) -> str:
    counts = record["counts"]
    return (
        f"dataset v{record['version']}: {counts['samples']} samples ({counts['train']} train, {counts['val']} val) "
        f"from {counts['matches']} matches"
    )


def _changed_matches(repo: DatasetRepo, images: pd.DataFrame, previous: pd.DataFrame) -> list[str]:
    """Matches whose folder must be rebuilt: samples or contents differ from the previous version, or the
    work-tree folder does not list exactly the expected files (an interrupted export left it half-built)."""
    keys = ["match_id", "frame"]
    merged = images[[*keys, "md5"]].merge(
        previous[[*keys, "md5"]], on=keys, how="outer", suffixes=("", "_before"), indicator=True
    )
    differs = (merged["_merge"] != "both") | (merged["md5"] != merged["md5_before"])
    changed = set(merged.loc[differs, "match_id"]) & set(images["match_id"])
    images_dir = repo.path / IMAGES_DIR
    for match_id, frames in images.groupby("match_id", sort=True)["frame"]:
        if match_id in changed:
            continue
        try:
            present = set(os.listdir(images_dir / str(match_id)))
        except FileNotFoundError:
            present = set()
        if present != {image_name(frame) for frame in frames}:
            changed.add(str(match_id))
    return sorted(changed)


def _remove(entry: Path) -> None:
    if entry.is_dir():
        shutil.rmtree(entry)
    else:
        entry.unlink()


def _tidy_work_tree(repo: DatasetRepo, keep: set[str]) -> list[str]:
    """Delete what the version does not hold: folders and .dvc files of other matches, leftover build folders,
    and stray files in labels/ and annotations/ (a temporary file left by a killed export, which ``dvc add``
    would otherwise make part of the version). Returns the removed ``images/`` entries."""
    images_dir = repo.path / IMAGES_DIR
    removed = []
    for entry in sorted(images_dir.iterdir()):
        if entry.name == ".gitignore":
            continue
        if entry.name.startswith(".") or entry.name.removesuffix(".dvc") not in keep:
            _remove(entry)
            removed.append(entry.name)
    expected = {labels_file(split) for split in SPLITS} | {annotations_file(split) for split in SPLITS}
    for folder in (LABELS_DIR, ANNOTATIONS_DIR):
        if (repo.path / folder).is_dir():
            for entry in (repo.path / folder).iterdir():
                if f"{folder}/{entry.name}" not in expected:
                    _remove(entry)
    return removed


def _rebuild_match(repo: DatasetRepo, match_id: str, rows: pd.DataFrame) -> None:
    """Build the folder beside its final place, then swap it in, so it never holds a mix of two versions."""
    images_dir = repo.path / IMAGES_DIR
    building = images_dir / f".{match_id}.building"
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    for frame, source in zip(rows["frame"], rows["source_path"], strict=True):
        shutil.copyfile(source, building / image_name(frame))
    final = images_dir / match_id
    if final.exists():
        shutil.rmtree(final)
    building.rename(final)


def _write_metadata(repo: DatasetRepo, candidate: Candidate) -> None:
    write_parquet_atomic(repo.path / MANIFEST, candidate.manifest)
    labels = candidate.labels.to_pandas()
    images = candidate.images
    for split in SPLITS:
        split_labels = labels[labels["split"] == split]
        write_parquet_atomic(repo.path / labels_file(split), table_from_frame(split_labels, LABEL_SCHEMA))
        document = coco_json(images[images["split"] == split], split_labels, description=f"cvops {split} split")
        write_text_atomic(repo.path / annotations_file(split), document)


def _dvc_add(repo: DatasetRepo, changed: list[str]) -> None:
    repo.dvc("add", "-q", *(f"{IMAGES_DIR}/{match_id}" for match_id in changed), *METADATA_TARGETS)


def _commit_version(repo: DatasetRepo, message: str) -> str:
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", message)
    return repo.git("rev-parse", "HEAD").strip()


def _dvc_ids(repo: DatasetRepo, changed: list[str]) -> dict[str, str]:
    targets = [*METADATA_TARGETS, *(f"{IMAGES_DIR}/{match_id}" for match_id in changed)]
    return {target: dvc_out_md5((repo.path / dvc_file_for(target)).read_text()) for target in targets}


def _create_version(
    repo: DatasetRepo,
    ledger: PushLedger,
    candidate: Candidate,
    previous_manifest: pa.Table,
    latest: DatasetVersion | None,
    fields: _RecordFields,
    wait: LockWait,
    completed: tuple[DatasetVersion, ...],
    timings: dict[str, float],
) -> ExportResult:
    version = (latest.version if latest else 0) + 1
    images = candidate.images
    previous = previous_manifest.to_pandas()
    with _timed(timings, "work_tree"):
        changed = _changed_matches(repo, images, previous)
        removed = _tidy_work_tree(repo, set(images["match_id"]))
        logger.info("dataset v%d: %d match folder(s) to build, %d removed", version, len(changed), len(removed))
        rows_by_match = images.groupby("match_id", sort=False)
        for match_id in changed:
            _rebuild_match(repo, match_id, rows_by_match.get_group(match_id))
        _write_metadata(repo, candidate)
    with _timed(timings, "dvc_add"):
        _dvc_add(repo, changed)

    unique = images.drop_duplicates("md5")
    is_new = ~unique["md5"].isin(set(previous["md5"]))
    counts = {
        "samples": len(images),
        "train": int((images["split"] == "train").sum()),
        "val": int((images["split"] == "val").sum()),
        "matches": int(images["match_id"].nunique()),
        "boxes": candidate.labels.num_rows,
    }
    record = {
        "version": version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "previous_version": latest.version if latest else None,
        "code_commit": fields.code_commit,
        "sources": fields.sources,
        "config": fields.config,
        "counts": counts,
        "bytes_new": int(unique.loc[is_new, "bytes"].sum()),
        "bytes_reused": int(unique.loc[~is_new, "bytes"].sum()),
    }
    write_text_atomic(repo.path / EXPORT_YAML, yaml.safe_dump(record, sort_keys=False))
    dvc_ids = _dvc_ids(repo, changed)
    remote = repo.remote.identity()
    ledger.mark_pending(remote, version)
    message = _commit_message(record)
    with _timed(timings, "commit"):
        commit = _commit_version(repo, message)
    tags = {**tagged_versions(repo), version: commit}
    with _timed(timings, "push"):
        outcome = _push_version(repo, ledger, version, commit, tags)
    _tag_version(repo, version, message)

    dataset_version = version_from_export(record, commit, pushed=outcome.pushed)
    logger.info("%s: %s", dataset_version.tag, message)
    report = export_markdown(
        version=dataset_version,
        remote_url=repo.remote.url,
        dvc_ids=dvc_ids,
        changed_matches=changed,
        n_matches=counts["matches"],
        bytes_new=record["bytes_new"],
        bytes_reused=record["bytes_reused"],
        previous_tag=latest.tag if latest else None,
        push_error=outcome.error,
        lock_note=wait.describe(),
        completed=[v.tag for v in completed],
        timings=timings,
    )
    return ExportResult(
        version=dataset_version,
        samples=_dataset_samples(version, candidate.manifest),
        created=True,
        report=report,
        lock=wait,
        push_error=outcome.error,
        objects_pushed=outcome.objects_pushed,
        completed=completed,
        dvc_ids=dvc_ids,
        timings=timings,
    )


def _dataset_samples(version: int, manifest: pa.Table) -> pd.DataFrame:
    return manifest.to_pandas().assign(version=version)[list(DATASET_SAMPLE_COLUMNS)]


def _unchanged_result(
    latest: DatasetVersion, manifest: pa.Table, wait: LockWait, recovery: Recovery, timings: dict[str, float]
) -> ExportResult:
    logger.info("export unchanged: the candidate equals %s", latest.tag)
    return ExportResult(
        version=latest,
        samples=_dataset_samples(latest.version, manifest),
        created=False,
        report=unchanged_markdown(latest, wait.describe(), [v.tag for v in recovery.completed], recovery.push_error),
        lock=wait,
        push_error=None if latest.pushed else recovery.push_error,
        objects_pushed=recovery.objects_pushed,
        completed=recovery.completed,
        dvc_ids={},
        timings=timings,
    )
