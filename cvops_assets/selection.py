"""Selection: which matches feed the dataset (and in which split), and which of their frames become samples."""

import dagster as dg
import pandas as pd
from pydantic import Field

from cvops.selection import (
    FrameSelectionConfig,
    MatchSelectionConfig,
    blocking_failures,
    export_split,
    select_frames,
    select_matches,
)
from cvops_assets.automation import on_any_match_update, once_per_match
from cvops_assets.cleaning import cleaned_tracks
from cvops_assets.labels import raw_labels
from cvops_assets.partitions import matches_partitions
from cvops_resources import CatalogResource

_MATCHES, _FRAMES = MatchSelectionConfig(), FrameSelectionConfig()


class MatchSelectionSettings(dg.Config):
    """The selection policy: groups of matches and how many of each group are kept."""

    group_by: list[str] = Field(default_factory=lambda: list(_MATCHES.group_by))
    max_per_group: int = _MATCHES.max_per_group
    revision: int = _MATCHES.revision

    def to_domain(self) -> MatchSelectionConfig:
        return MatchSelectionConfig(
            group_by=tuple(self.group_by), max_per_group=self.max_per_group, revision=self.revision
        )


@dg.asset(
    deps=[raw_labels],
    group_name="selection",
    kinds={"pandas", "parquet"},
    automation_condition=on_any_match_update,
    description="Every match's group and split: per group at most N matches, oldest annotation first, the first "
    "to val. Only grows: earlier assignments are kept and only free slots are filled (docs/cleaning.md).",
)
def match_selection(
    context: dg.AssetExecutionContext, config: MatchSelectionSettings, catalog: CatalogResource
) -> dg.MaterializeResult:
    matches = catalog.read("matches")
    previous = catalog.read("match_selection")
    failures = blocking_failures(catalog.read("label_check_results"))
    selection = select_matches(
        matches, previous if len(previous) else None, failed_checks=failures, config=config.to_domain()
    )
    catalog.write("match_selection", selection.table)
    counts = selection.table.groupby(["split"]).size().to_dict()
    context.log.info(f"match selection: {counts}" + (" (recomputed from scratch)" if selection.recomputed else ""))
    return dg.MaterializeResult(
        metadata={
            "recomputed": selection.recomputed,
            "matches": len(selection.table),
            "by_split": {str(k): int(v) for k, v in counts.items()},
            "groups": int(selection.table["group_key"].nunique()),
            "selection": dg.MetadataValue.md(_selection_markdown(selection.table)),
            "dagster/row_count": len(selection.table),
        }
    )


def _selection_markdown(table: pd.DataFrame) -> str:
    shown = table[["group_key", "match_id", "split", "reason"]].sort_values(["group_key", "split", "match_id"])
    return shown.to_markdown(index=False)


class FrameSelectionSettings(dg.Config):
    """Candidate frames and the rules that drop them (see ``FrameSelectionConfig``)."""

    frame_step: int = _FRAMES.frame_step
    first_frame: int = _FRAMES.first_frame
    last_frame: int | None = _FRAMES.last_frame
    min_players: int = _FRAMES.min_players
    max_players: int = _FRAMES.max_players
    min_matched_share: float = _FRAMES.min_matched_share
    min_mean_iou: float = _FRAMES.min_mean_iou
    require_agreement: bool = _FRAMES.require_agreement

    def to_domain(self) -> FrameSelectionConfig:
        return FrameSelectionConfig(**self.model_dump())


@dg.asset(
    partitions_def=matches_partitions,
    deps=[cleaned_tracks, match_selection],
    group_name="selection",
    kinds={"pandas", "parquet"},
    automation_condition=once_per_match,
    description="The frames of one match that become dataset samples (every frame_step-th, minus non-game and "
    "disagreeing frames), with the match's split. Manifests: selected_frames, frame_exclusions.",
)
def selected_frames(
    context: dg.AssetExecutionContext, config: FrameSelectionSettings, catalog: CatalogResource
) -> dg.MaterializeResult:
    match_id = context.partition_key
    selection = catalog.read("match_selection")
    if not (selection["match_id"] == match_id).any():
        # Not "excluded": the selection simply has not seen this match yet. Failing keeps the partition missing,
        # so it runs again once match_selection has been recomputed with this match in it.
        raise dg.Failure(f"match {match_id} is not in match_selection yet; it runs after the next selection")
    split = export_split(selection, match_id)
    match = catalog.read("matches", match_id).iloc[0]
    frames = select_frames(
        match_id,
        catalog.read("cleaned_tracks", match_id),
        catalog.read("frame_agreement", match_id),
        n_frames=int(match.n_frames),
        split=split,
        config=config.to_domain(),
    )
    catalog.write("selected_frames", frames.selected, match_id)
    catalog.write("frame_exclusions", frames.exclusions, match_id)
    reasons = frames.exclusions["reason"].value_counts().to_dict()
    return dg.MaterializeResult(
        metadata={
            "split": split or "not exported",
            "selected": len(frames.selected),
            "excluded": len(frames.exclusions),
            "excluded_by_reason": {str(k): int(v) for k, v in reasons.items()},
            "dagster/row_count": len(frames.selected),
        }
    )
