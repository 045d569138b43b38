"""Dataset versions: the ready samples of the selected matches, committed with git and pushed with DVC."""

import dagster as dg
import pandas as pd

from cvops.datasets import export_dataset, export_preview, list_versions, version_samples, versions_frame
from cvops.datasets.candidates import DatasetCandidates, dataset_candidates
from cvops.io import write_text_atomic
from cvops.provenance import current_git_commit
from cvops_assets.cleaning import cleaned_tracks
from cvops_assets.samples import frame_samples
from cvops_assets.selection import match_selection, selected_frames
from cvops_resources import CatalogResource, DatasetRepoResource

DATASET_DEPS = [match_selection, selected_frames, frame_samples, cleaned_tracks]


def _candidates(catalog: CatalogResource) -> DatasetCandidates:
    return dataset_candidates(
        catalog.read("match_selection"),
        catalog.read("selected_frames"),
        catalog.read("frame_samples"),
        catalog.read("cleaned_tracks"),
    )


def _not_ready_markdown(not_ready: pd.DataFrame) -> str:
    if not len(not_ready):
        return "Every exported match is ready."
    return "Matches left out of this version:\n\n" + not_ready.to_markdown(index=False)


@dg.asset(
    deps=DATASET_DEPS,
    group_name="datasets",
    kinds={"dvc", "markdown"},
    description="What exporting now would change, per group: matches and samples in the latest dataset version "
    "and in the candidate, added and removed; so a person can judge whether a new version (and retraining) is "
    "worth it. Written to $CVOPS_HOME/reports/export_preview.md too.",
)
def dataset_export_preview(
    context: dg.AssetExecutionContext, catalog: CatalogResource, dataset_repo: DatasetRepoResource
) -> dg.MaterializeResult:
    candidates = _candidates(catalog)
    report = (
        export_preview(dataset_repo.repo(), candidates.samples) + "\n\n" + _not_ready_markdown(candidates.not_ready)
    )
    path = catalog.root / "reports" / "export_preview.md"
    write_text_atomic(path, report)
    return dg.MaterializeResult(
        metadata={
            "candidate_samples": len(candidates.samples),
            "matches_not_ready": len(candidates.not_ready),
            "report": dg.MetadataValue.md(report),
            "path": dg.MetadataValue.path(str(path)),
        }
    )


class DatasetExportSettings(dg.Config):
    """Recorded in the version's export.yaml with the selection policy, so a version says how it was made."""

    task: str = "mot-players"
    notes: str = ""


@dg.asset(
    deps=DATASET_DEPS,
    group_name="datasets",
    kinds={"dvc", "git"},
    description="The next dataset version: a git commit tagged dataset/vN whose images DVC stores once and pushes "
    "(only what the remote lacks). Runs when asked (UI, CLI, retrain_sensor), never on every match.",
)
def dataset_version(
    context: dg.AssetExecutionContext,
    config: DatasetExportSettings,
    catalog: CatalogResource,
    dataset_repo: DatasetRepoResource,
) -> dg.MaterializeResult:
    candidates = _candidates(catalog)
    if not len(candidates.samples):
        raise dg.Failure(
            "no ready samples to export yet", metadata={"not_ready": _not_ready_markdown(candidates.not_ready)}
        )
    repo = dataset_repo.repo()
    preview = export_preview(repo, candidates.samples)
    selection = catalog.read("match_selection")
    result = export_dataset(
        repo,
        candidates.samples,
        candidates.labels,
        config={
            **config.model_dump(),
            "selection_policy": selection["policy"].iloc[0] if len(selection) else None,
            "matches": sorted(candidates.samples["match_id"].unique()),
        },
        code_commit=current_git_commit(),
        sources={"label_store": str(catalog.root), "matches_not_ready": candidates.not_ready.to_dict("records")},
        lock_timeout_s=dataset_repo.lock_timeout_s,
    )
    if result.lock.waited:
        context.log.info(result.lock.describe())

    catalog.write("dataset_versions", versions_frame(list_versions(repo)))
    for version in (*result.completed, result.version):
        rows = result.samples if version == result.version else version_samples(repo, version.version)
        catalog.upsert("dataset_samples", rows, key=["version", "match_id", "frame"])

    version = result.version
    report = "\n\n".join(
        ["## Before export\n\n" + preview, "## Export\n\n" + result.report, _not_ready_markdown(candidates.not_ready)]
    )
    write_text_atomic(catalog.root / "reports" / f"dataset-{version.tag.replace('/', '-')}.md", report)
    if result.push_error:
        context.log.warning(f"{version.tag} is committed but not pushed: {result.push_error}")
    return dg.MaterializeResult(
        metadata={
            "version": version.version,
            "tag": version.tag,
            "git_commit": version.git_commit,
            "created": result.created,
            "n_samples": version.n_samples,
            "n_train": version.n_train,
            "n_val": version.n_val,
            "bytes_new": version.bytes_new,
            "objects_pushed": result.objects_pushed if result.objects_pushed is not None else -1,
            "pushed": version.pushed,
            "dvc_ids": result.dvc_ids,
            "lock": result.lock.describe(),
            "matches_not_ready": len(candidates.not_ready),
            "report": dg.MetadataValue.md(report),
        },
        data_version=dg.DataVersion(version.tag),
    )
