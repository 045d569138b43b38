"""How long the ``cvops`` command line takes to show its help: the cost of every invocation before any work.

    .venv/bin/python benchmarks/cli_startup.py --runs 20

Each command line runs in a fresh process (as a user or a script would start it) ``--runs`` times; the median and
the slowest are printed, with the import of the library packages a command used to pull in at start-up for
comparison.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

CVOPS = str(Path(sys.executable).with_name("cvops"))
COMMAND_LINES = (
    [CVOPS, "--help"],
    [CVOPS, "frames", "--help"],
    [CVOPS, "models", "list", "--help"],
    [CVOPS, "evaluate", "--help"],
)
# What `cvops --help` imported before sub-commands were loaded lazily: every sub-command's library modules.
EAGER_IMPORTS = "import cvops.video, cvops.metrics, cvops.tracking, cvops.registry, cvops.synth, cvops.catalog"


def _seconds(argv: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    rows = [(" ".join(["cvops", *argv[1:]]), _seconds(argv, args.runs)) for argv in COMMAND_LINES]
    rows.append(("python -c '<the eager imports>'", _seconds([sys.executable, "-c", EAGER_IMPORTS], args.runs)))
    print(f"{'command':<40} {'median s':>9} {'max s':>7}   ({args.runs} runs each)")
    for name, times in rows:
        print(f"{name:<40} {statistics.median(times):9.3f} {max(times):7.3f}")


if __name__ == "__main__":
    main()
