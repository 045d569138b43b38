"""The end-to-end demo behind ``make demo``: synthetic matches flow through the platform as real ones would.

It runs on the persistent instance in ``DAGSTER_HOME``, so everything it does is visible afterwards in the UI
(``make dev``). Newly annotated matches are picked up by evaluating ``annotated_matches_sensor`` itself (the same
code the daemon runs on its schedule), applying its partition requests and executing the runs it asks for.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import dagster as dg

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

    echo(f"\n== 1. {n_matches} annotated matches arrive")
    _ensure_synthetic_matches(paths, SynthConfig(n_matches=n_matches, seconds=seconds, seed=seed), echo)
    pick_up_new_matches(defs, instance, echo)

    if n_new_matches:
        echo(f"\n== 2. {n_new_matches} more matches are annotated")
        config = SynthConfig(n_matches=n_new_matches, seconds=seconds, seed=seed + 1, first_match_index=n_matches)
        _ensure_synthetic_matches(paths, config, echo)
        pick_up_new_matches(defs, instance, echo)

    _print_summary(defs, echo)
    echo("\nSee it in the UI: `make dev`, then open http://127.0.0.1:3000 (Assets -> raw_labels, Runs, Sensors).")


def _ensure_synthetic_matches(paths: CvopsPaths, config: SynthConfig, echo: Echo) -> None:
    wanted = {f"m{i:04d}" for i in range(config.first_match_index, config.first_match_index + config.n_matches)}
    store = LabelStore(paths.label_store)
    existing = set(store.read_matches().matches) if store.matches_file.exists() else set()
    if wanted <= existing:
        echo(f"label store {paths.label_store} already holds {', '.join(sorted(wanted))}")
        return
    written = generate_store(paths.label_store, config)
    echo(f"generated {', '.join(written)} into {paths.label_store}")


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
    if not done:
        echo("  no new matches")
    return done


def _print_summary(defs: dg.Definitions, echo: Echo) -> None:
    catalog = defs.resources["catalog"]
    labels = catalog.query(
        "SELECT m.match_id, m.pitch, m.home_team, m.away_team, count(*) AS label_rows, "
        "count(DISTINCT l.track_id) AS tracks FROM raw_labels l JOIN matches m USING (match_id) "
        "GROUP BY ALL ORDER BY m.match_id"
    )
    checks = catalog.query(
        'SELECT match_id, "check", bool_and(passed) AS passed FROM label_check_results GROUP BY ALL ORDER BY ALL'
    )
    echo('\n== Summary (from the catalog: `cvops sql "SELECT * FROM raw_labels LIMIT 5"`)')
    echo(labels.to_string(index=False))
    failing = checks[~checks["passed"]]
    echo(f"label checks: {len(checks)} results, {len(failing)} failing")
    if len(failing):
        echo(failing.to_string(index=False))
