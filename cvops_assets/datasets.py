"""Dataset versions: the ready samples of the selected matches, committed with git and pushed with DVC."""

import dagster as dg
import pandas as pd
from pydantic import Field

from cvops.datasets import export_dataset, export_preview, list_versions, version_samples, versions_frame
from cvops.datasets.candidates import DatasetCandidates, dataset_candidates
from cvops.provenance import current_git_commit
from cvops.reports import write_report
from cvops.video import SampleStore
from cvops_assets.catalog_tables import table_asset
from cvops_resources import CatalogResource, DatasetRepoResource, LabelStoreResource

CANDIDATE_TABLES = ["match_selection", "selected_frames", "frame_samples", "cleaned_tracks"]


def _candidates(catalog: CatalogResource) -> DatasetCandidates:
    tables = catalog.get_catalog()
    return dataset_candidates(*(tables.read(name) for name in CANDIDATE_TABLES))


def _not_ready_markdown(not_ready: pd.DataFrame) -> str:
    if not len(not_ready):
        return "Every exported match is ready."
    return "Matches left out of this version:\n\n" + not_ready.to_markdown(index=False)


@dg.asset(
    deps=CANDIDATE_TABLES,
    group_name="datasets",
    kinds={"dvc", "markdown"},
    description="What exporting now would change, per group: matches and samples in the latest dataset version "
    "and in the candidate, added and removed; so a person can judge whether a new version (and retraining) is "
    "worth it. Written to $CVOPS_HOME/reports/export_preview.md too.",
)
def dataset_export_preview(catalog: CatalogResource, dataset_repo: DatasetRepoResource) -> dg.MaterializeResult:
    candidates = _candidates(catalog)
    report = (
        export_preview(dataset_repo.get_repo(), candidates.samples) + "\n\n" + _not_ready_markdown(candidates.not_ready)
    )
    path = write_report(catalog.paths(), "export_preview.md", report)
    return dg.MaterializeResult(
        metadata={
            "candidate_samples": len(candidates.samples),
            "matches_not_ready": len(candidates.not_ready),
            "report": dg.MetadataValue.md(report),
            "path": dg.MetadataValue.path(str(path)),
        }
    )


class DatasetVersionRunConfig(dg.Config):
    """Recorded in the version's export.yaml with the selection policy, so a version says how it was made."""

    task: str = Field(default="mot-players", description="What the dataset is for (one repository can serve several).")
    notes: str = Field(default="", description="Free text kept with the version, e.g. why it was made.")


@dg.multi_asset(
    name="export_dataset_version",
    specs=[
        dg.AssetSpec(
            "dataset_version",
            deps=CANDIDATE_TABLES,
            group_name="datasets",
            kinds={"dvc", "git"},
            description="The next dataset version: a git commit tagged dataset/vN whose images DVC stores once and "
            "pushes (only what the remote lacks). Runs when asked (UI, CLI, retrain_sensor), never on every match.",
        ),
        table_asset("dataset_versions", deps=["dataset_version"], group_name="datasets"),
        table_asset("dataset_samples", deps=["dataset_version"], group_name="datasets"),
    ],
)
def export_dataset_version(
    context: dg.AssetExecutionContext,
    config: DatasetVersionRunConfig,
    catalog: CatalogResource,
    dataset_repo: DatasetRepoResource,
    label_store: LabelStoreResource,
):
    candidates = _candidates(catalog)
    if not len(candidates.samples):
        raise dg.Failure(
            "no ready samples to export yet", metadata={"not_ready": _not_ready_markdown(candidates.not_ready)}
        )
    repo, tables = dataset_repo.get_repo(), catalog.get_catalog()
    samples = candidates.samples
    if tables.in_object_storage:  # samples that other nodes extracted: fetched into this node's sample cache
        store = SampleStore.default()
        samples = samples.assign(source_path=[str(store.localize(path)) for path in samples["source_path"]])
    preview = export_preview(repo, samples)
    selection = tables.read("match_selection")
    result = export_dataset(
        repo,
        samples,
        candidates.labels,
        config={
            **config.model_dump(),
            "selection_policy": selection["policy"].iloc[0] if len(selection) else None,
            "matches": sorted(candidates.samples["match_id"].unique()),
        },
        code_commit=current_git_commit(),
        sources={
            "label_store": str(label_store.get_store().root),
            "matches_not_ready": candidates.not_ready.to_dict("records"),
        },
        lock_timeout_s=dataset_repo.lock_timeout_s,
    )
    if result.lock.waited:
        context.log.info(result.lock.describe())

    versions = versions_frame(list_versions(repo))
    tables.write("dataset_versions", versions)
    for version in (*result.completed, result.version):
        rows = result.samples if version == result.version else version_samples(repo, version.version)
        tables.upsert("dataset_samples", rows, key=["version", "match_id", "frame"])

    version = result.version
    report = "\n\n".join(
        ["## Before export\n\n" + preview, "## Export\n\n" + result.report, _not_ready_markdown(candidates.not_ready)]
    )
    write_report(catalog.paths(), f"dataset-{version.tag.replace('/', '-')}.md", report)
    if result.push_error:
        context.log.warning(f"{version.tag} is committed but not pushed: {result.push_error}")
    if result.publish_error:
        context.log.warning(f"{version.tag} is not on the git remote yet: {result.publish_error}")
    yield dg.MaterializeResult(
        asset_key="dataset_version",
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
            "published": version.published,
            "dvc_ids": result.dvc_ids,
            "lock": result.lock.describe(),
            "matches_not_ready": len(candidates.not_ready),
            "report": dg.MetadataValue.md(report),
        },
        data_version=dg.DataVersion(version.tag),
    )
    yield dg.MaterializeResult(asset_key="dataset_versions", metadata={"dagster/row_count": len(versions)})
    yield dg.MaterializeResult(
        asset_key="dataset_samples", metadata={"version": version.version, "dagster/row_count": len(result.samples)}
    )
