"""The end-to-end demo behind ``make demo``: synthetic matches flow through the platform as real ones would.

It runs on the persistent instance in ``DAGSTER_HOME``, so everything it does is visible afterwards in the UI
(``make dev``). Newly annotated matches are picked up by evaluating ``annotated_matches_sensor`` itself (the same
code the daemon runs on its schedule), applying its partition requests and executing the runs it asks for.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import dagster as dg
import pandas as pd

from cvops.home import init_home
from cvops.labels import LabelStore
from cvops.settings import CvopsPaths
from cvops.synth import SynthConfig, generate_store

Echo = Callable[[str], None]
# The demo prints its own summary; each run's full event log stays in the instance for the UI.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def run_demo(*, n_matches: int, n_new_matches: int, seconds: float, seed: int, echo: Echo = print) -> None:
    paths = init_home()
    os.environ["DAGSTER_HOME"] = str(paths.dagster_home)
    from cvops_assets.definitions import defs  # after DAGSTER_HOME and CVOPS_HOME are settled

    instance = dg.DagsterInstance.get()
    echo(f"cvops demo: state in {paths.home}")

    daemon = DaemonStandIn(defs, instance, echo)
    echo(f"\n== 1. {n_matches} annotated matches arrive")
    _ensure_synthetic_matches(paths, SynthConfig(n_matches=n_matches, seconds=seconds, seed=seed), echo)
    daemon.run_until_idle()

    if n_new_matches:
        echo(f"\n== 2. {n_new_matches} more matches are annotated")
        config = SynthConfig(n_matches=n_new_matches, seconds=seconds, seed=seed + 1, first_match_index=n_matches)
        _ensure_synthetic_matches(paths, config, echo)
        daemon.run_until_idle()

    _print_summary(defs, paths, echo)
    echo(
        "\nSee it in the UI: `make dev`, then open http://127.0.0.1:3000 "
        "(Assets: lineage and metadata per match; Runs; Automation: the sensors)."
    )


def _ensure_synthetic_matches(paths: CvopsPaths, config: SynthConfig, echo: Echo) -> None:
    wanted = {f"m{i:04d}" for i in range(config.first_match_index, config.first_match_index + config.n_matches)}
    store = LabelStore(paths.label_store)
    existing = set(store.read_matches().matches) if store.matches_file.exists() else set()
    if wanted <= existing:
        echo(f"label store {paths.label_store} already holds {', '.join(sorted(wanted))}")
        return
    written = generate_store(paths.label_store, config)
    echo(f"generated {', '.join(written)} into {paths.label_store}")


class DaemonStandIn:
    """Does in-process what the Dagster daemon does on its schedule: tick the match sensor and the automation
    sensor, and execute what they request, until neither asks for more.

    Like the automation sensor, it evaluates the conditions once before any work, so that later updates are seen
    as updates (Dagster's first evaluation only establishes a baseline).
    """

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance, echo: Echo) -> None:
        self.defs, self.instance, self.echo = defs, instance, echo
        self.cursor = dg.evaluate_automation_conditions(defs=defs, instance=instance).cursor

    def run_until_idle(self) -> None:
        while True:
            picked = pick_up_new_matches(self.defs, self.instance, self.echo)
            evaluation = dg.evaluate_automation_conditions(defs=self.defs, instance=self.instance, cursor=self.cursor)
            self.cursor = evaluation.cursor
            requested = _requested_by_partition(self.defs, evaluation)
            for partition_key, keys in requested.items():
                self._execute(keys, partition_key)
            if not picked and not requested:
                return

    def _execute(self, keys: list[dg.AssetKey], partition_key: str | None) -> None:
        job = self.defs.resolve_implicit_job_def_def_for_assets(keys)
        outcome = job.execute_in_process(
            instance=self.instance,
            asset_selection=keys,
            partition_key=partition_key,
            run_config=QUIET_RUN_CONFIG,
            raise_on_error=False,
        )
        names = ", ".join(k.to_user_string() for k in keys)
        where = f"match {partition_key}" if partition_key else "all matches"
        self.echo(f"  {names} ({where}): run {outcome.run_id[:8]} {'ok' if outcome.success else 'FAILED'}")


def _requested_by_partition(defs: dg.Definitions, evaluation) -> dict[str | None, list[dg.AssetKey]]:
    """Requested asset keys grouped by partition (None for unpartitioned assets), unpartitioned ones first."""
    grouped: dict[str | None, list[dg.AssetKey]] = {}
    for key in defs.resolve_all_asset_keys():
        for partition_key in sorted(evaluation.get_requested_partitions(key), key=str):
            grouped.setdefault(partition_key, []).append(key)
    return dict(sorted(grouped.items(), key=lambda item: (item[0] is not None, item[0] or "")))


def pick_up_new_matches(defs: dg.Definitions, instance: dg.DagsterInstance, echo: Echo) -> list[str]:
    """Tick the sensor until it finds nothing new; run every match it asks for. Returns the matches run."""
    sensor = defs.resolve_sensor_def("annotated_matches_sensor")
    job = defs.resolve_job_def("match_pipeline")
    cursor = None
    done: list[str] = []
    while True:
        context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=defs.resources)
        result = sensor(context)
        if not isinstance(result, dg.SensorResult) or not result.run_requests:
            break
        cursor = result.cursor
        for request in result.dynamic_partitions_requests or []:
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        for request in result.run_requests:
            outcome = job.execute_in_process(
                instance=instance,
                partition_key=request.partition_key,
                tags=request.tags,
                run_config=QUIET_RUN_CONFIG,
                raise_on_error=False,
            )
            failed_checks = [e.check_name for e in outcome.get_asset_check_evaluations() if not e.passed]
            status = "ok" if outcome.success else "FAILED"
            notes = f" (checks failed: {', '.join(failed_checks)})" if failed_checks else ""
            echo(f"  match {request.partition_key}: run {outcome.run_id[:8]} {status}{notes}")
            done.append(request.partition_key)
    return done


SUMMARY_SQL = """
SELECT m.match_id, m.pitch, m.home_team, m.away_team,
       s."offset" AS sync_offset, s.applied AS offset_applied,
       coalesce(g.ghost_rows, 0) AS ghost_rows_removed,
       sel.split, coalesce(f.frames, 0) AS selected_frames
FROM matches m
LEFT JOIN match_sync s USING (match_id)
LEFT JOIN (SELECT match_id, count(*) AS ghost_rows FROM label_removals WHERE reason = 'ghost' GROUP BY 1) g
    USING (match_id)
LEFT JOIN match_selection sel USING (match_id)
LEFT JOIN (SELECT match_id, count(*) AS frames FROM selected_frames GROUP BY 1) f USING (match_id)
ORDER BY m.match_id
"""


def _print_summary(defs: dg.Definitions, paths: CvopsPaths, echo: Echo) -> None:
    catalog = defs.resources["catalog"]
    summary = catalog.query(SUMMARY_SQL)
    truth_file = paths.label_store / "_truth" / "matches.csv"
    if truth_file.exists():  # synthetic stores know the true offsets: show them beside the recovered ones
        truth = pd.read_csv(truth_file, dtype={"match_id": str})[["match_id", "sync_offset"]]
        summary = summary.merge(truth.rename(columns={"sync_offset": "true_offset"}), on="match_id", how="left")
    checks = catalog.query(
        'SELECT match_id, "check", bool_and(passed) AS passed FROM label_check_results GROUP BY ALL ORDER BY ALL'
    )
    echo('\n== Summary (from the catalog; try `cvops sql "SELECT * FROM match_sync"`)')
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        echo(summary.to_string(index=False))
    failing = checks[~checks["passed"]]
    echo(f"label checks: {len(checks)} results, {len(failing)} failing")
    if len(failing):
        echo(failing.to_string(index=False))
