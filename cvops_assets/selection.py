"""Selection: which matches feed the dataset (and in which split), and which of their frames become samples."""

import dagster as dg
import pandas as pd

from cvops.selection import (
    FrameSelectionConfig,
    MatchSelectionConfig,
    blocking_failures,
    export_split,
    select_frames,
    select_matches,
)
from cvops_assets.automation import on_any_dep_update, once_per_match
from cvops_assets.catalog_tables import table_asset
from cvops_assets.run_config import run_config
from cvops_resources import CatalogResource

MatchSelectionRunConfig = run_config(MatchSelectionConfig)
FrameSelectionRunConfig = run_config(FrameSelectionConfig)
FRAME_SELECTION_DEPS = ["cleaned_tracks", "frame_agreement", "matches", "match_selection"]


@dg.multi_asset(
    name="match_selection",
    specs=[
        table_asset(
            "match_selection",
            deps=["matches", "label_check_results"],
            group_name="selection",
            automation_condition=on_any_dep_update,
        )
    ],
    description="Every match's group and split: per group at most N matches, oldest annotation first, the first "
    "to val; matches whose blocking label checks failed are left out. Only grows: earlier assignments are kept and "
    "only free slots are filled (docs/cleaning.md).",
)
def match_selection(
    context: dg.AssetExecutionContext, config: MatchSelectionRunConfig, catalog: CatalogResource
) -> dg.MaterializeResult:
    tables = catalog.get_catalog()
    previous = tables.read("match_selection")
    selection = select_matches(
        tables.read("matches"),
        previous if len(previous) else None,
        failed_checks=blocking_failures(tables.read("label_check_results")),
        config=config.to_domain(),
    )
    tables.write("match_selection", selection.table)
    counts = selection.table.groupby(["split"]).size().to_dict()
    context.log.info(f"match selection: {counts}" + (" (recomputed from scratch)" if selection.recomputed else ""))
    return dg.MaterializeResult(
        asset_key="match_selection",
        metadata={
            "recomputed": selection.recomputed,
            "matches": len(selection.table),
            "by_split": {str(k): int(v) for k, v in counts.items()},
            "groups": int(selection.table["group_key"].nunique()),
            "selection": dg.MetadataValue.md(_selection_markdown(selection.table)),
            "dagster/row_count": len(selection.table),
        },
    )


def _selection_markdown(table: pd.DataFrame) -> str:
    shown = table[["group_key", "match_id", "split", "reason"]].sort_values(["group_key", "split", "match_id"])
    return shown.to_markdown(index=False)


@dg.multi_asset(
    name="select_frames",
    specs=[
        table_asset(name, deps=FRAME_SELECTION_DEPS, group_name="selection", automation_condition=once_per_match)
        for name in ("selected_frames", "frame_exclusions")
    ],
    description="The frames of one match that become dataset samples (every frame_step-th, minus non-game and "
    "disagreeing frames), with the match's split; and the frames left out with the rule that dropped each.",
)
def select_match_frames(context: dg.AssetExecutionContext, config: FrameSelectionRunConfig, catalog: CatalogResource):
    match_id = context.partition_key
    tables = catalog.get_catalog()
    selection = tables.read("match_selection")
    if not (selection["match_id"] == match_id).any():
        # Not "excluded": the selection simply has not seen this match yet. Failing keeps the partition missing,
        # so it runs again once match_selection has been recomputed with this match in it.
        raise dg.Failure(f"match {match_id} is not in match_selection yet; it runs after the next selection")
    split = export_split(selection, match_id)
    match = tables.read("matches", match_id).iloc[0]
    frames = select_frames(
        match_id,
        tables.read("cleaned_tracks", match_id),
        tables.read("frame_agreement", match_id),
        n_frames=int(match.n_frames),
        split=split,
        config=config.to_domain(),
    )
    tables.write("selected_frames", frames.selected, match_id)
    tables.write("frame_exclusions", frames.exclusions, match_id)
    reasons = frames.exclusions["reason"].value_counts().to_dict()
    yield dg.MaterializeResult(
        asset_key="selected_frames",
        metadata={
            "split": split or "not exported",
            "selected": len(frames.selected),
            "dagster/row_count": len(frames.selected),
        },
    )
    yield dg.MaterializeResult(
        asset_key="frame_exclusions",
        metadata={
            "excluded_by_reason": {str(k): int(v) for k, v in reasons.items()},
            "dagster/row_count": len(frames.exclusions),
        },
    )
