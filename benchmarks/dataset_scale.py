"""Dataset versions at scale: cvops's per-match DVC folders against one DVC-tracked images folder.

For each size N it makes N tiny JPEG samples (``--per-match`` frames per match), then two versions: the first
with all N samples and a second that adds 1% new samples (one new match), and prints the seconds of
``dvc add``, the git commit and ``dvc push`` and the number of objects pushed, for both layouts:

- ``per-match``: :func:`cvops.datasets.export_dataset` (one ``images/<match_id>.dvc`` per match; only changed
  matches are added and pushed);
- ``flat``: the plain DVC way, ``dvc add images`` over the whole folder, ``git commit``, ``dvc push``.

Usage::

    .venv/bin/python benchmarks/dataset_scale.py --sizes 10000 100000
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from cvops.datasets import DatasetRepo, RemoteSettings, export_dataset

DVC = [sys.executable, "-m", "dvc"]


def make_samples(cache: Path, matches: range, per_match: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tiny distinct JPEGs (8x8 noise, ~0.7 KB) and two boxes per frame."""
    rng = np.random.default_rng(matches.start)
    samples, labels = [], []
    for index in matches:
        match_id = f"m{index:05d}"
        folder = cache / match_id
        folder.mkdir(parents=True, exist_ok=True)
        for frame in range(1, per_match + 1):
            path = folder / f"{frame:06d}.jpg"
            Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(path, quality=90)
            samples.append((match_id, frame, "train", f"g{index % 7}", str(path)))
            labels.append((match_id, frame, 1, "player", 1.0, 2.0, 3.0, 4.0))
            labels.append((match_id, frame, 2, "ball", 5.0, 6.0, 1.0, 1.0))
    return (
        pd.DataFrame(samples, columns=["match_id", "frame", "split", "group_key", "source_path"]),
        pd.DataFrame(labels, columns=["match_id", "frame", "track_id", "role", "x", "y", "w", "h"]),
    )


def run(argv: list[str], cwd: Path) -> tuple[float, str]:
    started = time.monotonic()
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=True)
    return time.monotonic() - started, done.stdout + done.stderr


def pushed_count(output: str) -> int:
    found = re.search(r"(\d+) files? pushed", output)
    return int(found.group(1)) if found else 0


def bench_flat(root: Path, versions: list[pd.DataFrame]) -> list[dict[str, object]]:
    repo, remote = root / "flat-repo", root / "flat-remote"
    repo.mkdir()
    run(["git", "init", "-q"], repo)
    run(["git", "config", "user.email", "bench@localhost"], repo)
    run(["git", "config", "user.name", "bench"], repo)
    run([*DVC, "init", "-q"], repo)
    run([*DVC, "config", "core.analytics", "false"], repo)
    run([*DVC, "config", "cache.type", "reflink,hardlink,copy"], repo)
    run([*DVC, "remote", "add", "-d", "storage", str(remote)], repo)
    rows = []
    present: set[str] = set()
    for number, samples in enumerate(versions, start=1):
        for match_id, frame, source in zip(samples["match_id"], samples["frame"], samples["source_path"], strict=True):
            target = f"images/{match_id}/{frame:06d}.jpg"
            if target not in present:
                (repo / target).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, repo / target)
                present.add(target)
        add_s, _ = run([*DVC, "add", "-q", "images"], repo)
        started = time.monotonic()
        run(["git", "add", "-A"], repo)
        run(["git", "commit", "-q", "-m", f"v{number}"], repo)
        commit_s = time.monotonic() - started
        push_s, output = run([*DVC, "push"], repo)
        rows.append(
            {"layout": "flat", "version": number, "samples": len(samples), "add_s": add_s, "commit_s": commit_s,
             "push_s": push_s, "objects_pushed": pushed_count(output)}
        )  # fmt: skip
    return rows


def bench_per_match(root: Path, versions: list[tuple[pd.DataFrame, pd.DataFrame]]) -> list[dict[str, object]]:
    repo = DatasetRepo(root / "cvops-repo", RemoteSettings(str(root / "cvops-remote")))
    rows = []
    for number, (samples, labels) in enumerate(versions, start=1):
        started = time.monotonic()
        result = export_dataset(repo, samples, labels, config={"bench": True}, code_commit="bench", sources={})
        assert result.created and result.version.version == number and result.version.pushed
        timings = result.timings
        rows.append(
            {"layout": "per-match", "version": number, "samples": len(samples), "add_s": timings["dvc_add"],
             "commit_s": timings["commit"], "push_s": timings["push"], "objects_pushed": result.objects_pushed,
             "prepare_s": timings["candidate"] + timings["work_tree"], "export_s": time.monotonic() - started}
        )  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--per-match", type=int, default=1000)
    parser.add_argument("--workdir", type=Path, default=None, help="kept if given; a temporary folder otherwise")
    args = parser.parse_args()
    results = []
    for size in args.sizes:
        root = (args.workdir / f"n{size}") if args.workdir else Path(tempfile.mkdtemp(prefix=f"dataset-scale-{size}-"))
        root.mkdir(parents=True, exist_ok=True)
        n_matches = max(1, size // args.per_match)
        new_frames = max(1, size // 100)
        started = time.monotonic()
        base, base_labels = make_samples(root / "samples", range(n_matches), args.per_match)
        extra, extra_labels = make_samples(root / "samples", range(n_matches, n_matches + 1), new_frames)
        print(f"n={size}: made {len(base) + len(extra)} samples in {time.monotonic() - started:.1f} s", flush=True)
        second = pd.concat([base, extra], ignore_index=True)
        second_labels = pd.concat([base_labels, extra_labels], ignore_index=True)
        rows = bench_per_match(root, [(base, base_labels), (second, second_labels)])
        rows += bench_flat(root, [base, second])
        for row in rows:
            row["n"] = size
            print(
                {key: round(value, 2) if isinstance(value, float) else value for key, value in row.items()}, flush=True
            )
        results += rows
        if args.workdir is None:
            shutil.rmtree(root)
    table = pd.DataFrame(results)
    table["total_s"] = table["add_s"] + table["commit_s"] + table["push_s"]
    columns = ["n", "layout", "version", "samples", "add_s", "commit_s", "push_s", "total_s", "objects_pushed"]
    if "prepare_s" in table:
        columns += ["prepare_s", "export_s"]
    print()
    print(table[columns].to_markdown(index=False, floatfmt=".2f"))


if __name__ == "__main__":
    main()
