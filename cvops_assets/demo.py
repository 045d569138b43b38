"""The end-to-end demo behind ``make demo``: synthetic matches flow through the platform as real ones would.

It runs on the persistent instance in ``DAGSTER_HOME``, so everything it does is visible afterwards in the UI
(``make dev``). ``DaemonStandIn`` does in-process what the Dagster daemon does on its schedule: it evaluates the
project's own sensors and automation conditions and executes the runs they ask for. The demo itself only does
what a person would: annotate matches (here: generate them) and ask for a retrain after each wave.

The loop it shows: the first wave's matches come from two of the league's three pitches; the second wave brings
the third, which the first model has never seen. The retrained model starts from the production model's weights
on the new dataset version, and the benchmark decides on the samples both models were evaluated on whether it
replaces production; the summary shows both models on each sample.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import dagster as dg
import pandas as pd

from cvops.benchmark import PromotionPolicy, current_results, current_samples, leaderboard
from cvops.benchmark.leaderboard import per_sample
from cvops.catalog import Catalog
from cvops.errors import CvopsError
from cvops.home import init_home
from cvops.labels import LabelStore
from cvops.registry import open_registry
from cvops.settings import CvopsPaths
from cvops.synth import SynthConfig, generate_store
from cvops.synth.league import STADIUMS
from cvops_assets.demo_review import review_new_match

Echo = Callable[[str], None]
# The demo prints its own summary; each run's full event log stays in the instance for the UI.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
# Sensors whose run requests the stand-in executes (the automation sensor is evaluated separately).
RUN_SENSORS = ("annotated_matches_sensor", "benchmark_sensor")
# The demo's matches are 20 seconds long, not 90 minutes: a frame every 5 (not 25) gives the model enough images,
# and grouping by pitch alone keeps most matches for training (one val match per pitch).
DEMO_OP_CONFIG = {
    "select_frames": {"frame_step": 5},
    "match_selection": {"group_by": ["pitch"], "max_per_group": 4},
}


def held_back_pitch(seed: int) -> str:
    """The pitch the demo's second wave brings (the first wave never plays there): one per seed, in turn."""
    return STADIUMS[seed % len(STADIUMS)].pitch


def run_demo(
    *,
    n_matches: int,
    n_new_matches: int,
    seconds: float,
    seed: int,
    epochs: int,
    max_train_minutes: float,
    echo: Echo = print,
) -> None:
    started = time.monotonic()
    paths = init_home()
    os.environ["DAGSTER_HOME"] = str(paths.dagster_home)
    from cvops_assets.definitions import defs  # after DAGSTER_HOME and CVOPS_HOME are settled

    instance = dg.DagsterInstance.get()
    echo(f"cvops demo: state in {paths.home}")
    daemon = DaemonStandIn(defs, instance, echo, op_config={**DEMO_OP_CONFIG})

    new_pitch = held_back_pitch(seed)
    first_pitches = tuple(s.pitch for s in STADIUMS if s.pitch != new_pitch)
    waves = [(n_matches, 0, seed, first_pitches)]
    if n_new_matches:
        waves.append((n_new_matches, n_matches, seed + 1, (new_pitch,)))
    training = {"epochs": epochs, "max_minutes": max_train_minutes}
    for number, (count, first, wave_seed, pitches) in enumerate(waves, start=1):
        where = ", ".join(pitches) + (", a pitch the first model has not seen" if first else "")
        echo(f"\n== {number}. {count} {'more ' if first else ''}annotated matches arrive ({where})")
        config = SynthConfig(n_matches=count, seconds=seconds, seed=wave_seed, first_match_index=first, pitches=pitches)
        _ensure_synthetic_matches(paths, config, echo)
        daemon.run_until_idle()
        start = "from the production model's weights" if first else "from scratch (no production model yet)"
        echo(f"== {number}. retrain: a new dataset version, a model trained {epochs} epochs {start}")
        daemon.retrain(training)
        daemon.run_until_idle()

    echo(f"\n== {len(waves) + 1}. a match nobody has annotated yet: its review queue and CVAT task")
    review_new_match(daemon, paths, index=n_matches + n_new_matches, seconds=min(seconds, 8.0), seed=seed, echo=echo)
    _print_summary(paths, echo)
    echo(f"\ndemo finished in {(time.monotonic() - started) / 60:.1f} min")
    echo(
        "See it in the UI: `make dev`, then open http://127.0.0.1:3000 "
        "(Assets: lineage and metadata per match; Runs; Automation: the sensors)."
    )
    if daemon.failed_runs:  # the summary above still shows what did work; the exit status says it did not all work
        raise CvopsError(
            f"{len(daemon.failed_runs)} run(s) failed: {'; '.join(daemon.failed_runs)} "
            "(their event logs: the UI's Runs)"
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
    """Does in-process what the Dagster daemon does on its schedule: tick the sensors that request runs and the
    automation sensor, and execute what they request, until none asks for more.

    Like the daemon it never launches a run key twice, and like the automation sensor it evaluates the
    conditions once before any work, so that later updates are seen as updates (Dagster's first evaluation only
    establishes a baseline).
    """

    def __init__(
        self,
        defs: dg.Definitions,
        instance: dg.DagsterInstance,
        echo: Echo,
        *,
        op_config: dict[str, dict] | None = None,
    ) -> None:
        self.defs, self.instance, self.echo = defs, instance, echo
        self.op_config = op_config or {}
        self.cursor = dg.evaluate_automation_conditions(defs=defs, instance=instance).cursor
        self.sensor_cursors: dict[str, str | None] = {}
        self.run_keys: set[str] = set()
        self.failed_runs: list[str] = []
        """Each failed run as "what [partition]: run id", in the order they ran."""

    def run_until_idle(self) -> None:
        while True:
            launched = sum(self._tick(name) for name in RUN_SENSORS)
            evaluation = dg.evaluate_automation_conditions(defs=self.defs, instance=self.instance, cursor=self.cursor)
            self.cursor = evaluation.cursor
            requested = _requested_by_partition(self.defs, evaluation)
            for partition_key, keys in requested.items():
                self.materialize(keys, partition_key)
            if not launched and not requested:
                return

    def retrain(self, training: dict | None = None) -> dg.ExecuteInProcessResult:
        """What a person (or retrain_sensor) asks for: the retrain job, with ``training`` as the config of its
        ``trained_model`` step (epochs, safety limit, ...)."""
        job = self.defs.resolve_job_def("retrain")
        config = self._run_config(job, {"trained_model": training or {}})
        outcome = job.execute_in_process(instance=self.instance, run_config=config, raise_on_error=False)
        return self._report("retrain", None, outcome)

    def materialize(self, keys: list[dg.AssetKey], partition_key: str | None = None) -> dg.ExecuteInProcessResult:
        """Run ``keys`` (of one partition) as a person would from the UI, with the assets their steps also write;
        returns the run's result."""
        selection = dg.AssetSelection.assets(*keys).required_multi_asset_neighbors()
        keys = sorted(selection.resolve(self.defs.resolve_asset_graph()), key=lambda k: k.to_user_string())
        job = self.defs.resolve_implicit_job_def_def_for_assets(keys)
        steps = {self.defs.resolve_assets_def(key).node_def.name for key in keys}
        outcome = job.execute_in_process(
            instance=self.instance,
            asset_selection=keys,
            partition_key=partition_key,
            run_config=self._run_config(job, {}, only=steps),
            raise_on_error=False,
        )
        return self._report(", ".join(sorted(steps)), partition_key, outcome)

    def _run_config(self, job: dg.JobDefinition, extra: dict[str, dict], only: set[str] | None = None) -> dict:
        """Quiet logging plus the configured steps' config, for the steps this run executes."""
        config = {**self.op_config, **extra}
        nodes = set(job.graph.node_dict) if only is None else only
        ops = {name: {"config": values} for name, values in config.items() if name in nodes}
        return {**QUIET_RUN_CONFIG, "ops": ops} if ops else QUIET_RUN_CONFIG

    def _tick(self, sensor_name: str) -> int:
        sensor = self.defs.resolve_sensor_def(sensor_name)
        cursor = self.sensor_cursors.get(sensor_name)
        # Resources holding other resources (S3 access) are set up by a context manager, as the daemon does.
        with dg.build_sensor_context(instance=self.instance, cursor=cursor, resources=self.defs.resources) as context:
            result = sensor(context)
        if not isinstance(result, dg.SensorResult):
            result = dg.SensorResult(run_requests=[result]) if isinstance(result, dg.RunRequest) else None
        if result is None:
            return 0
        self.sensor_cursors[sensor_name] = result.cursor or self.sensor_cursors.get(sensor_name)
        for request in result.dynamic_partitions_requests or []:
            self.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        for event in result.asset_events or []:
            self.instance.report_runless_asset_event(event)
        launched = 0
        for request in result.run_requests or []:
            if request.run_key in self.run_keys:
                continue
            self.run_keys.add(request.run_key)
            job = self.defs.resolve_job_def(request.job_name or sensor.job_name)
            outcome = job.execute_in_process(
                instance=self.instance,
                partition_key=request.partition_key,
                tags=request.tags,
                run_config=self._run_config(job, {}),
                raise_on_error=False,
            )
            self._report(job.name, request.partition_key, outcome)
            launched += 1
        return launched

    def _report(
        self, what: str, partition_key: str | None, outcome: dg.ExecuteInProcessResult
    ) -> dg.ExecuteInProcessResult:
        where = f" [{partition_key}]" if partition_key else ""
        failed = [e.check_name for e in outcome.get_asset_check_evaluations() if not e.passed]
        notes = f" (checks not passed: {', '.join(failed)})" if failed else ""
        status = "ok" if outcome.success else "FAILED"
        self.echo(f"  {what}{where}: run {outcome.run_id[:8]} {status}{notes}")
        if not outcome.success:
            self.failed_runs.append(f"{what}{where}: run {outcome.run_id[:8]}")
        return outcome


def _requested_by_partition(defs: dg.Definitions, evaluation) -> dict[str | None, list[dg.AssetKey]]:
    """Requested asset keys grouped by partition (None for unpartitioned assets), unpartitioned ones first."""
    grouped: dict[str | None, list[dg.AssetKey]] = {}
    for key in defs.resolve_all_asset_keys():
        for partition_key in sorted(evaluation.get_requested_partitions(key), key=str):
            grouped.setdefault(partition_key, []).append(key)
    return dict(sorted(grouped.items(), key=lambda item: (item[0] is not None, item[0] or "")))


SUMMARY_SQL = """
SELECT m.match_id, m.pitch, m.home_team, m.away_team,
       s."offset" AS sync_offset, s.applied AS offset_applied,
       coalesce(g.ghost_rows, 0) AS ghost_rows_removed,
       sel.split, coalesce(f.frames, 0) AS selected_frames, p.source AS predictions
FROM matches m
LEFT JOIN match_sync s USING (match_id)
LEFT JOIN (SELECT match_id, count(*) AS ghost_rows FROM label_removals WHERE reason = 'ghost' GROUP BY 1) g
    USING (match_id)
LEFT JOIN match_selection sel USING (match_id)
LEFT JOIN (SELECT match_id, count(*) AS frames FROM selected_frames GROUP BY 1) f USING (match_id)
LEFT JOIN (SELECT DISTINCT match_id, source FROM match_predictions) p USING (match_id)
ORDER BY m.match_id
"""


def _print_summary(paths: CvopsPaths, echo: Echo) -> None:
    catalog = Catalog.at(paths)
    summary = catalog.query(SUMMARY_SQL)
    truth_file = paths.label_store / "_truth" / "matches.csv"
    if truth_file.exists():  # synthetic stores know the true offsets: show them beside the recovered ones
        truth = pd.read_csv(truth_file, dtype={"match_id": str})[["match_id", "sync_offset"]]
        summary = summary.merge(truth.rename(columns={"sync_offset": "true_offset"}), on="match_id", how="left")
    echo('\n== Summary (from the catalog; try `cvops sql "SELECT * FROM match_sync"`)')
    with pd.option_context("display.width", 220, "display.max_columns", 20):
        echo(summary.to_string(index=False))
        versions = catalog.query(
            "SELECT tag, n_samples, n_train, n_val, bytes_new, pushed, git_commit[:10] AS git_commit "
            "FROM dataset_versions ORDER BY version"
        )
        echo('\ndataset versions (`cvops sql "SELECT * FROM dataset_versions"`):')
        echo(versions.to_string(index=False) if len(versions) else "  none")
        pairs = catalog.query(
            "SELECT model_version, count(*) AS samples, round(avg(hota), 3) AS mean_hota, "
            "round(avg(idf1), 3) AS mean_idf1 FROM benchmark_results GROUP BY 1 ORDER BY 1"
        )
        echo('\nbenchmark results per model (`cvops sql "SELECT * FROM benchmark_results"`):')
        echo(pairs.to_string(index=False) if len(pairs) else "  none")
        models = catalog.query(
            "SELECT model_version, dataset_version, coalesce(parent_model, 'scratch') AS started_from, stage "
            "FROM models ORDER BY model_version"
        )
        echo("\nmodels and their lineage (`cvops models list`, `cvops models show VERSION`):")
        echo(models.to_string(index=False) if len(models) else "  none")
        _print_before_and_after(catalog, echo)
    registry = open_registry(paths.model_registry, cache_dir=paths.models_cache)
    decisions = [e for e in registry.audit_log() if e.get("action") in ("promote", "reject", "rollback")]
    echo("\npromotion decisions (`cvops models audit`):")
    for entry in decisions or [{"version": "-", "action": "none", "reason": ""}]:
        echo(f"  {entry['version']}: {entry['action']}: {entry['reason']}")
    top = catalog.query("SELECT match_id, rank, kind, frame, detail FROM review_queue WHERE rank <= 2 ORDER BY ALL")
    echo('\nreview queues, top 2 per match (`cvops sql "SELECT * FROM review_queue"`):')
    with pd.option_context("display.width", 220, "display.max_colwidth", 100):
        echo(top.to_string(index=False) if len(top) else "  none")
    checks = catalog.query('SELECT "check", bool_and(passed) AS passed FROM label_check_results GROUP BY ALL')
    echo(f"label checks: {len(checks)} kinds, {int((~checks['passed']).sum())} with failures")


def _print_before_and_after(catalog: Catalog, echo: Echo) -> None:
    """Every model on the benchmark samples all were evaluated on: in total (as promotion compares them), then
    per sample with the sample's pitch, so a gain or a loss can be traced to the matches it came from."""
    membership = catalog.read("benchmark_samples")
    if not len(membership):
        return
    samples = current_samples(membership)
    results = current_results(membership, catalog.read("benchmark_results"))
    weights = PromotionPolicy().weights
    board = leaderboard(results, samples=samples, weights=weights)
    if not board.rows:
        return
    echo("\nbefore and after, on the benchmark samples every model was evaluated on (`cvops benchmark curve`):")
    echo(board.to_frame()[["model_version", "weighted_error", "hota", "samples"]].round(4).to_string(index=False))
    table = per_sample(results, samples=board.common_samples, weights=weights)
    wide = table.pivot(index="match_id", columns="model_version", values=["weighted_error", "hota"]).round(4)
    wide.columns = [f"{model} {'error' if metric == 'weighted_error' else 'HOTA'}" for metric, model in wide.columns]
    pitches = catalog.query("SELECT match_id, pitch FROM matches").set_index("match_id")["pitch"]
    wide.insert(0, "pitch", pitches.reindex(wide.index))
    echo("per sample (weighted error = (FN + FP + 5 IDSW) / ground-truth boxes; lower is better):")
    echo(wide[["pitch", *sorted(wide.columns.drop("pitch"), key=lambda c: (c.split()[1], c))]].to_string())
