"""Partition bookkeeping at scale: how long the sensor, the partition adds and one raw_labels run take.

    PYTHONPATH=. .venv/bin/python benchmarks/partitions.py --matches 1000 10000

(It reuses the test suite's store builders, hence PYTHONPATH.)

For each size it builds a label store of N matches with tiny labels (2 tracks, 3 keyframes each), then measures on a
persistent SQLite instance (as `make dev` uses): the first sensor tick over the whole store (every match new), the
time to add its partitions, a tick where nothing changed, a tick after one new match, and one raw_labels
materialisation (with its checks) for one match among N partitions.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import dagster as dg

from tests.factories import match_row, player_keyframes, write_csv, write_store


def _timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def bench(n_matches: int, root: Path) -> dict[str, float]:
    from cvops_assets import sensors
    from cvops_assets.definitions import defs
    from cvops_resources import CatalogResource, LabelStoreResource

    store = root / "store"
    rows = [match_row(f"m{i:05d}", annotated_at=f"2026-01-01T00:00:{i % 60:02d}+00:00") for i in range(n_matches)]
    write_store(store, rows, {})
    for row in rows[:1]:
        write_csv(store / str(row["match_id"]) / "keyframes.csv", list(player_keyframes(1)[0]), player_keyframes(12))

    sensors.MAX_NEW_MATCHES_PER_TICK = n_matches  # one tick takes the whole backlog, the worst case
    instance = dg.DagsterInstance.get()
    resource = LabelStoreResource(root=str(store))

    def tick(cursor):
        context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"label_store": resource})
        return sensors.annotated_matches_sensor(context)

    first, t_first = _timed(lambda: tick(None))
    keys = [k for r in first.dynamic_partitions_requests for k in r.partition_keys]
    _, t_add = _timed(lambda: instance.add_dynamic_partitions("matches", keys))
    _, t_idle = _timed(lambda: tick(first.cursor))
    write_store(store, [*rows, match_row("late")], {})
    late, t_new = _timed(lambda: tick(first.cursor))
    assert [r.partition_key for r in late.run_requests] == ["late"]

    job = defs.resolve_job_def("match_pipeline")
    result, t_run = _timed(
        lambda: job.execute_in_process(
            partition_key=str(rows[0]["match_id"]),
            instance=instance,
            resources={**defs.resources, "label_store": resource, "catalog": CatalogResource()},
        )
    )
    assert result.success
    return {
        "first tick (all new), s": t_first,
        "add partitions, s": t_add,
        "tick, nothing changed, s": t_idle,
        "tick, one new match, s": t_new,
        "one raw_labels run with checks, s": t_run,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--matches", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    for n in args.matches:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            os.environ["CVOPS_HOME"] = str(root / "home")
            os.environ["DAGSTER_HOME"] = str(root / "home" / "dagster")
            from cvops.home import init_home

            init_home()
            figures = bench(n, root)
        print(f"\n{n} matches")
        for name, seconds in figures.items():
            print(f"  {name:<36} {seconds:8.3f}")


if __name__ == "__main__":
    main()
