"""Ghost removal against the synthetic truth, with the predictions a platform run actually used.

    CVOPS_HOME=.cvops .venv/bin/python benchmarks/ghosts_vs_truth.py m0006 m0007 m0008

Reads each match's labels from the label store, its predictions from the catalog's ``match_predictions`` (the
detector file or the production model's, whichever the run used) and cleans it again with the current
``cvops.cleaning``; then compares the rows removed as ghosts with the generator's ``_truth/<match>/ghosts.csv``.
Run it after ``make demo`` (or any run on synthetic matches) to see how the cleaning fares with a real model's
predictions rather than the synthetic detector's.
"""

from __future__ import annotations

import argparse

import pandas as pd

from cvops.catalog import Catalog, Manifests
from cvops.cleaning import VideoInfo, clean_match
from cvops.labels import LabelStore, interpolate_keyframes
from cvops.settings import CvopsPaths


def ghost_rows(truth: pd.DataFrame) -> set[tuple[int, int]]:
    return {(f, int(r.track_id)) for r in truth.itertuples() for f in range(r.start_frame, r.end_frame + 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("matches", nargs="+")
    args = parser.parse_args()
    paths = CvopsPaths.from_env()
    store = LabelStore(paths.label_store)
    matches = store.read_matches().matches
    catalog = Catalog(paths.catalog, Manifests(paths.manifests))
    totals = {"true": 0, "removed": 0, "found": 0}
    for match_id in args.matches:
        match = matches[match_id]
        predictions = catalog.query(
            "SELECT frame, x, y, w, h, conf, source FROM match_predictions WHERE match_id = ?", [match_id]
        )
        video = VideoInfo(match.n_frames, match.width, match.height, float(match.fps))
        raw = interpolate_keyframes(store.read_keyframes(match_id))
        result = clean_match(match_id, raw, predictions.drop(columns="source"), video)
        removals = result.label_removals[result.label_removals["reason"] == "ghost"]
        removed = set(zip(removals["frame"], removals["track_id"], strict=True))
        true = ghost_rows(pd.read_csv(paths.label_store / "_truth" / match_id / "ghosts.csv"))
        found = len(removed & true)
        source = predictions["source"].iloc[0] if len(predictions) else "none"
        print(
            f"{match_id} (predictions: {source}): {len(true)} true ghost rows, {len(removed)} removed, "
            f"{found} of them true ({len(removed) - found} real rows lost)"
        )
        for key, value in (("true", len(true)), ("removed", len(removed)), ("found", found)):
            totals[key] += value
    print(
        f"all: {totals['true']} true ghost rows, {totals['removed']} removed, recall "
        f"{totals['found'] / max(1, totals['true']):.3f}, precision {totals['found'] / max(1, totals['removed']):.3f}"
    )


if __name__ == "__main__":
    main()
