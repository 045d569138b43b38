"""Cleaning quality on synthetic matches whose truth is known: sync offsets and ghost rows.

For each seed a synthetic label store is generated (``cvops.synth.generate_store``, videos included, as a user
gets it), every match is read back through the public readers exactly as the ``cleaned_tracks`` asset reads it,
cleaned with ``clean_match``, and scored against ``_truth/`` with ``cvops.cleaning.quality``:

* sync: shifted matches whose offset is found exactly; unshifted matches that got a shift anyway;
* ghost rows: recall and precision of the rows removed as ``ghost`` against the truth's ghost frame ranges;
* kept rows: share of the rows that are not ghosts that were removed as ghosts.

Usage::

    .venv/bin/python benchmarks/cleaning_quality.py --seeds 0 1 2 3 4 5 6 7 --matches 6
    .venv/bin/python benchmarks/cleaning_quality.py --no-predictions          # labels-only ghost rule
    .venv/bin/python benchmarks/cleaning_quality.py --synth det_miss_rate=0.25 det_jitter=0.08   # harder data
    .venv/bin/python benchmarks/cleaning_quality.py --set ghosts.min_iou=0.3 sync.min_z=5        # other settings

Stores are generated under ``--store-root`` (default: a temporary folder) and reused when already there.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

import pandas as pd

from cvops.cleaning import CleaningConfig, VideoInfo, clean_match
from cvops.cleaning.quality import MatchScore, QualityFigures, quality_figures, score_match
from cvops.labels import LabelStore, interpolate_keyframes
from cvops.synth import SynthConfig, generate_store
from cvops.tracking import read_mot_detections

TRUTH_DIR = "_truth"


def evaluate_store(
    root: Path, config: CleaningConfig | None = None, *, use_predictions: bool = True
) -> tuple[list[MatchScore], list[float]]:
    """Clean and score every match of a synthetic store; also return the cleaning time of each match."""
    store = LabelStore(root)
    truth = pd.read_csv(root / TRUTH_DIR / "matches.csv").set_index("match_id")
    scores, seconds = [], []
    for match in store.read_matches().matches.values():
        raw = interpolate_keyframes(store.read_keyframes(match.match_id), match_id=match.match_id)
        det_file = store.detections_file(match.match_id)
        predictions = read_mot_detections(det_file) if use_predictions and det_file.exists() else None
        video = VideoInfo(match.n_frames, match.width, match.height, float(match.fps))
        started = time.perf_counter()
        result = clean_match(match.match_id, raw, predictions, video, config)
        seconds.append(time.perf_counter() - started)
        ghosts = pd.read_csv(root / TRUTH_DIR / match.match_id / "ghosts.csv")
        scores.append(score_match(raw, result, int(truth.loc[match.match_id, "sync_offset"]), ghosts))
    return scores, seconds


def describe(name: str, figures: QualityFigures, seconds: list[float]) -> str:
    return (
        f"{name:>8}  matches {figures.matches:3d}  "
        f"sync exact {figures.shifted_exact}/{figures.shifted} ({figures.sync_exact_share:.1%})  "
        f"shift applied to unshifted {figures.unshifted_shifted}/{figures.unshifted}  "
        f"ghost recall {figures.ghost_recall:.3f} precision {figures.ghost_precision:.3f} "
        f"({figures.ghost_rows_removed} removed / {figures.ghost_rows_true} true)  "
        f"non-ghost rows removed {figures.other_rows_removed_share:.3%}  "
        f"max |refined - true| {figures.refined_error_shifted:.2f} (shifted), "
        f"max |refined| {figures.refined_abs_unshifted:.2f} (unshifted)  "
        f"{sum(seconds) / max(len(seconds), 1):.2f} s/match"
    )


def parse_value(text: str) -> object:
    """A number (``a,b`` becomes a tuple of numbers)."""
    parts = [float(p) if "." in p else int(p) for p in text.split(",")]
    return tuple(parts) if len(parts) > 1 else parts[0]


def synth_overrides(pairs: list[str]) -> dict[str, object]:
    """``name=value`` pairs for ``SynthConfig``."""
    return {name: parse_value(text) for name, _, text in (pair.partition("=") for pair in pairs)}


def cleaning_config(pairs: list[str]) -> CleaningConfig:
    """``part.name=value`` pairs (``sync.min_z=5``, ``ghosts.min_iou=0.3``) over the default ``CleaningConfig``."""
    config = CleaningConfig()
    for pair in pairs:
        path, _, text = pair.partition("=")
        part, _, name = path.partition(".")
        config = replace(config, **{part: replace(getattr(config, part), **{name: parse_value(text)})})
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5, 6, 7])
    parser.add_argument("--matches", type=int, default=6, help="matches per seed")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each match")
    parser.add_argument("--synth", nargs="*", default=[], metavar="NAME=VALUE", help="other SynthConfig fields")
    parser.add_argument(
        "--set", nargs="*", default=[], metavar="PART.NAME=VALUE", help="CleaningConfig fields (ghosts.min_iou=0.3)"
    )
    parser.add_argument("--workers", type=int, default=1, help="processes rendering the videos")
    parser.add_argument("--store-root", type=Path, help="where the stores go (default: a temporary folder)")
    parser.add_argument("--no-predictions", action="store_true", help="ignore det.txt (labels-only rules)")
    args = parser.parse_args(argv)
    overrides = synth_overrides(args.synth)
    config = cleaning_config(args.set)

    all_scores: list[MatchScore] = []
    all_seconds: list[float] = []
    wrong: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="cvops-cleaning-") as scratch:
        root = args.store_root or Path(scratch)
        suffix = "".join(f"-{p.replace('=', '_').replace(',', '_')}" for p in args.synth)
        for seed in args.seeds:
            store = root / f"seed-{seed}-{args.matches}x{args.seconds:g}s{suffix}"
            if not (store / "matches.csv").is_file():
                synth = SynthConfig(n_matches=args.matches, seconds=args.seconds, seed=seed, **overrides)
                generate_store(store, synth, workers=args.workers)
            scores, seconds = evaluate_store(store, config, use_predictions=not args.no_predictions)
            print(describe(f"seed {seed}", quality_figures(scores), seconds), flush=True)
            wrong += [{"seed": seed, **asdict(s)} for s in scores if s.offset != s.true_offset]
            all_scores += scores
            all_seconds += seconds
    print(describe("all", quality_figures(all_scores), all_seconds))
    if wrong and not args.no_predictions:
        print("matches with a wrong offset:")
        print(pd.DataFrame(wrong)[["seed", "match_id", "true_offset", "offset"]].to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
