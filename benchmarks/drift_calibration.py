"""How often the drift check cries wolf, how large a change it catches, and what it costs.

Three parts:

1. Synthetic store (``cvops.synth.generate_store``, run through the real ``clean_match`` and ``select_frames``):
   every normal match against all the others (false alarms), then matches generated with another camera
   resolution or a worse detector against the normal ones (detections).
2. Generated statistics (``tests/drift/drift_factories.py``: log-normal boxes, binomial players and misses):
   detection rate of each kind of shift, by size, over many seeds, against a reference of 10 matches.
3. Cost: ``match_statistics`` on a full-length match (90 minutes at 25 fps, 22 players) and the size of its
   catalog row; ``compare_to_reference`` against references of growing size.

Usage::

    .venv/bin/python benchmarks/drift_calibration.py --matches 20 --seeds 20
    .venv/bin/python benchmarks/drift_calibration.py --parts cost
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cvops.catalog import Manifests
from cvops.drift import (
    DriftConfig,
    MatchStatistics,
    compare_to_reference,
    match_statistics,
)
from cvops.synth import SynthConfig, generate_store
from tests.drift.drift_factories import NORMAL, MatchShape, match_tables, reference, statistics
from tests.drift.drift_synth import store_statistics


def synthetic_store(n_matches: int, seconds: float, root: Path) -> None:
    base = SynthConfig(n_matches=n_matches, seconds=seconds, width=320, height=180, fps=10, gop=20, seed=11)
    variants = {
        "resolution 1.5x (480x270)": replace(base, width=480, height=270),
        "resolution 2x (640x360)": replace(base, width=640, height=360),
        "detector misses 30%": replace(base, det_miss_rate=0.3),
        "detector misses 50%": replace(base, det_miss_rate=0.5),
    }
    started = time.perf_counter()
    generate_store(root, base)
    for i, config in enumerate(variants.values()):
        generate_store(root, replace(config, n_matches=1, first_match_index=n_matches + i))
    stats = {s.match_id: s for s in store_statistics(root)}
    print(f"generated and summarised {len(stats)} synthetic matches in {time.perf_counter() - started:.1f} s")
    normal = [stats[m] for m in base.match_ids]

    for label, config in (("default", DriftConfig()), ("nearest_guard off", DriftConfig(nearest_guard=False))):
        flagged: Counter[str] = Counter()
        matches_flagged = 0
        for match in normal:
            report = compare_to_reference(match, normal, config)
            matches_flagged += bool(report.drifted)
            flagged.update(f.statistic for f in report.drifted)
        print(
            f"false alarms ({label}): {matches_flagged} of {len(normal)} normal matches flagged "
            f"(each against the other {len(normal) - 1}); by statistic: {dict(flagged) or 'none'}"
        )
    for i, label in enumerate(variants):
        report = compare_to_reference(stats[f"m{n_matches + i:04d}"], normal)
        print(f"  {label}: {report.status}, flagged {[f.statistic for f in report.drifted]}")


SHIFTS: dict[str, tuple[str, list[tuple[str, MatchShape]]]] = {
    "box height": (
        "box_height",
        [(f"x{scale:g}", replace(NORMAL, box_height=40.0 * scale)) for scale in (1.05, 1.1, 1.15, 1.2, 1.3, 1.5)],
    ),
    "players per frame": (
        "players_per_frame",
        [(f"{players} of 22", replace(NORMAL, players=players)) for players in (21, 20, 19, 18, 16, 11)],
    ),
    "detector misses": (
        "matched_share",
        [(f"{miss:.0%}", replace(NORMAL, miss_rate=miss)) for miss in (0.12, 0.16, 0.2, 0.3, 0.5)],
    ),
    "frames dropped": (
        "kept_share",
        [(f"{drop:.0%}", replace(NORMAL, drop_share=drop)) for drop in (0.2, 0.3, 0.4, 0.6)],
    ),
    "label delay": (
        "freshness_days",
        [(f"{days:g} d", replace(NORMAL, delay_days=days)) for days in (30, 45, 60, 90, 180)],
    ),
}


def detection_rates(seeds: int) -> None:
    ref = reference(10)
    flagged_any = sum(bool(compare_to_reference(statistics(f"n{s}", s), ref).drifted) for s in range(seeds))
    print(f"no shift: {flagged_any} of {seeds} matches flagged on any statistic")
    for kind, (statistic, shifts) in SHIFTS.items():
        cells = []
        for label, shape in shifts:
            hits = 0
            for seed in range(seeds):
                report = compare_to_reference(statistics(f"s{seed}", seed, shape), ref)
                hits += any(f.statistic == statistic for f in report.drifted)
            cells.append(f"{label}: {hits}/{seeds}")
        print(f"{kind} ({statistic} flagged): " + ", ".join(cells))


def cost(tmp: Path) -> None:
    full = replace(NORMAL, n_frames=135_000, frame_step=25)
    tables = match_tables("full", 1, full)
    record = tables.matches.iloc[0]
    started = time.perf_counter()
    match = match_statistics(
        "full",
        cleaned_tracks=tables.cleaned_tracks,
        selected_frames=tables.selected_frames,
        frame_exclusions=tables.frame_exclusions,
        frame_agreement=tables.frame_agreement,
        prediction_source=full.source,
        n_frames=full.n_frames,
        kickoff=record["kickoff"],
        annotated_at=record["annotated_at"],
    )
    print(
        f"match_statistics, 135,000 frames and {match.n_player_boxes:,} player boxes: "
        f"{time.perf_counter() - started:.2f} s"
    )
    manifests = Manifests(tmp)
    path = manifests.write("match_statistics", match.as_frame(), "full")
    print(f"match_statistics row: {path.stat().st_size / 1024:.0f} KiB of Parquet")

    base = reference(10)
    for size in (10, 100, 500, 1000):
        ref = [_renamed(base[i % len(base)], f"r{i}") for i in range(size)]
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            compare_to_reference(match, ref)
            timings.append(time.perf_counter() - started)
        print(f"compare_to_reference, {size} reference matches: {np.median(timings):.2f} s (median of 3)")


def _renamed(stats: MatchStatistics, match_id: str) -> MatchStatistics:
    return replace(stats, match_id=match_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matches", type=int, default=20, help="normal synthetic matches")
    parser.add_argument("--seconds", type=float, default=12.0, help="length of each synthetic match")
    parser.add_argument("--seeds", type=int, default=20, help="generated matches per shift size")
    parser.add_argument("--parts", default="synth,rates,cost", help="comma-separated parts to run")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        if "synth" in parts:
            print("== synthetic store ==")
            synthetic_store(args.matches, args.seconds, Path(tmp) / "store")
        if "rates" in parts:
            print("== detection rate by shift (reference: 10 generated matches) ==")
            detection_rates(args.seeds)
        if "cost" in parts:
            print("== cost ==")
            cost(Path(tmp) / "manifests")


if __name__ == "__main__":
    main()
