"""The demo's annotation loop: a match nobody has annotated arrives, the platform ranks what annotators should
look at and prepares their CVAT task with the production model's tracks as pre-annotations (docs/review.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import pandas as pd

from cvops.catalog import Catalog
from cvops.labels import LabelStore
from cvops.review.cvat_task import export_match
from cvops.settings import CvopsPaths
from cvops.synth import SynthConfig, generate_store
from cvops.synth.config import match_id as synth_match_id

TOP_ITEMS = 5


class RunsUntilIdle(Protocol):
    def run_until_idle(self) -> None: ...


def review_new_match(
    daemon: RunsUntilIdle, paths: CvopsPaths, *, index: int, seconds: float, seed: int, echo: Callable[[str], None]
) -> None:
    """Generate match ``index`` awaiting annotation, let the platform review it, print the top of its queue and
    write its CVAT task (pseudo-labels) under ``paths.cvat_tasks``."""
    match_id = synth_match_id(index)
    store = LabelStore(paths.label_store)
    if match_id not in store.read_matches().matches:
        config = SynthConfig(n_matches=1, seconds=seconds, seed=seed, first_match_index=index, in_progress_share=1.0)
        generate_store(paths.label_store, config)
        echo(f"generated {match_id} (awaiting annotation) into {paths.label_store}")
    daemon.run_until_idle()
    catalog = Catalog.at(paths)
    queue = catalog.read("review_queue", match_id)
    echo(f"\nreview queue of {match_id} (`cvops sql \"SELECT * FROM review_queue WHERE match_id = '{match_id}'\"`):")
    with pd.option_context("display.width", 220, "display.max_colwidth", 110):
        top = queue.head(TOP_ITEMS)[["rank", "kind", "frame", "track_id", "detail"]]
        echo(top.to_string(index=False) if len(top) else "  nothing to review")
    result = export_match(
        match_id, paths.cvat_tasks / match_id, source="predictions", queue_only=False, store=store, catalog=catalog
    )
    task = result.task
    echo(
        f"CVAT task for {match_id}: {task.folder} ({task.tracks} pseudo-label tracks, {task.boxes} boxes; "
        "create the task from task.json and upload annotations.xml as 'CVAT 1.1')"
    )
    if result.store_note:
        echo(result.store_note)
