"""Ghost removal against the synthetic truth, with the predictions a platform run used or with a model's.

    CVOPS_HOME=.cvops .venv/bin/python benchmarks/ghosts_vs_truth.py m0006 m0007 m0008
    CVOPS_HOME=.cvops .venv/bin/python benchmarks/ghosts_vs_truth.py m0006 m0007 m0008 --model m0001 --conf 0.35 0.2

Reads each match's labels from the label store and cleans it again with the current ``cvops.cleaning``, then
compares the rows removed as ghosts with the generator's ``_truth/<match>/ghosts.csv``. The predictions are the
catalog's ``match_predictions`` (whatever the run used: det.txt or the production model's), or with ``--model``
that registered model's detections on every frame of the match video, kept from each ``--conf`` threshold up.
Run it after ``make demo`` (or any run on synthetic matches) to see how the cleaning fares with a trained model's
predictions rather than the synthetic detector's.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import pandas as pd

from cvops.catalog import Catalog, Manifests
from cvops.cleaning import VideoInfo, clean_match
from cvops.labels import LabelStore, interpolate_keyframes
from cvops.model import detect
from cvops.model.dataset_folder import decode_every_nth_frame
from cvops.model.export import load_torchscript
from cvops.registry import open_registry
from cvops.settings import CvopsPaths

PREDICTION_COLUMNS = ["frame", "x", "y", "w", "h", "conf"]


def ghost_rows(truth: pd.DataFrame) -> set[tuple[int, int]]:
    return {(f, int(r.track_id)) for r in truth.itertuples() for f in range(r.start_frame, r.end_frame + 1)}


def model_detections(model, paths: CvopsPaths, match_id: str, conf: float) -> pd.DataFrame:
    """The model's detections on every frame of the match's video, from ``conf`` up."""
    rows = []
    batch: list[tuple[int, object]] = []
    for item in decode_every_nth_frame(paths.label_store / "videos" / f"{match_id}.mp4", 1):
        batch.append(item)
        if len(batch) == 16:
            rows += _detect(model, batch, conf)
            batch = []
    rows += _detect(model, batch, conf) if batch else []
    return pd.concat(rows, ignore_index=True)[PREDICTION_COLUMNS]


def _detect(model, batch: list, conf: float) -> list[pd.DataFrame]:
    found = detect(model, [image for _, image in batch], conf_threshold=conf)
    return [f[["x", "y", "w", "h", "conf"]].assign(frame=frame) for (frame, _), f in zip(batch, found, strict=True)]


def score(paths: CvopsPaths, match_ids: list[str], predictions_of: Callable[[str], pd.DataFrame], label: str) -> None:
    store = LabelStore(paths.label_store)
    matches = store.read_matches().matches
    totals = {"true": 0, "removed": 0, "found": 0}
    for match_id in match_ids:
        match = matches[match_id]
        video = VideoInfo(match.n_frames, match.width, match.height, float(match.fps))
        raw = interpolate_keyframes(store.read_keyframes(match_id))
        result = clean_match(match_id, raw, predictions_of(match_id), video)
        removals = result.label_removals[result.label_removals["reason"] == "ghost"]
        removed = set(zip(removals["frame"], removals["track_id"], strict=True))
        true = ghost_rows(pd.read_csv(paths.label_store / "_truth" / match_id / "ghosts.csv"))
        found = len(removed & true)
        print(
            f"{match_id} ({label}): {len(true)} true ghost rows, {len(removed)} removed, "
            f"{found} of them true ({len(removed) - found} real rows lost)"
        )
        for key, value in (("true", len(true)), ("removed", len(removed)), ("found", found)):
            totals[key] += value
    print(
        f"all ({label}): {totals['true']} true ghost rows, {totals['removed']} removed, recall "
        f"{totals['found'] / max(1, totals['true']):.3f}, precision {totals['found'] / max(1, totals['removed']):.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("matches", nargs="+")
    parser.add_argument("--model", help="a registered model version: run it instead of reading match_predictions")
    parser.add_argument("--conf", type=float, nargs="+", default=[0.3], help="with --model: thresholds to compare")
    args = parser.parse_args()
    paths = CvopsPaths.from_env()
    if args.model is None:
        catalog = Catalog(paths.catalog, Manifests(paths.manifests))

        def stored(match_id: str) -> pd.DataFrame:
            sql = "SELECT frame, x, y, w, h, conf FROM match_predictions WHERE match_id = ?"
            return catalog.query(sql, [match_id])

        score(paths, args.matches, stored, "match_predictions")
        return
    lowest = min(args.conf)
    registry = open_registry(paths.model_registry, cache_dir=paths.models_cache)
    model = load_torchscript(registry.torchscript_path(args.model))
    detections = {m: model_detections(model, paths, m, lowest) for m in args.matches}
    for conf in sorted(args.conf, reverse=True):
        score(
            paths, args.matches, lambda m, c=conf: detections[m][detections[m]["conf"] >= c], f"{args.model} >= {conf}"
        )


if __name__ == "__main__":
    main()
