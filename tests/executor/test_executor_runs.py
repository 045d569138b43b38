"""``gpu_executor`` running real Dagster runs: each step is a ``dagster api execute_step`` subprocess.

The assets record the ``CUDA_VISIBLE_DEVICES`` their process got and when they ran. A simulated pool of two
devices lets the test check the scheduling without a GPU: two GPU steps hold different devices at the same time,
and the third starts only after one of them ended.
"""

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.definitions.reconstruct import ReconstructableJob

from cvops_assets.executor import gpu_executor, gpu_op_tags
from cvops_assets.gpu_devices import try_lease

RECORDS_ENV = "CVOPS_EXECUTOR_TEST_RECORDS"
_BARRIER_TIMEOUT_S = 90.0


def _record(name: str, gpu_barrier: int = 0) -> None:
    """Write this step's device and run interval. A GPU step first waits until ``gpu_barrier`` GPU steps have
    started, so steps the executor runs in parallel are seen in parallel whatever their start-up times."""
    folder = Path(os.environ[RECORDS_ENV])
    start = time.time()
    if gpu_barrier:
        (folder / f"{name}.gpu-started").touch()
        deadline = time.monotonic() + _BARRIER_TIMEOUT_S
        while len(list(folder.glob("*.gpu-started"))) < gpu_barrier and time.monotonic() < deadline:
            time.sleep(0.05)
    time.sleep(0.2)
    record = {
        "device": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "threads": os.environ.get("OMP_NUM_THREADS"),
        "start": start,
        "end": time.time(),
        "pid": os.getpid(),
    }
    (folder / f"{name}.json").write_text(json.dumps(record))


@dg.asset(op_tags=gpu_op_tags())
def train_a() -> None:
    _record("train_a", gpu_barrier=2)


@dg.asset(op_tags=gpu_op_tags())
def train_b() -> None:
    _record("train_b", gpu_barrier=2)


@dg.asset(op_tags=gpu_op_tags())
def train_c() -> None:
    _record("train_c", gpu_barrier=2)


@dg.asset
def summary() -> None:
    _record("summary")


matches = dg.StaticPartitionsDefinition(["match_a", "match_b"])


@dg.asset(partitions_def=matches, op_tags=gpu_op_tags())
def predictions(context: dg.AssetExecutionContext) -> int:
    _record(f"predictions-{context.partition_key}")
    return len(context.partition_key)


@dg.asset_check(asset=predictions)
def predictions_recorded() -> dg.AssetCheckResult:
    """Runs as a step of its own after the asset's step; reads what that step wrote."""
    _record("predictions_check")
    written = sorted(p.name for p in Path(os.environ[RECORDS_ENV]).glob("predictions-*.json"))
    return dg.AssetCheckResult(passed=bool(written), metadata={"files": ", ".join(written)})


@dg.asset(op_tags=gpu_op_tags())
def dies_hard() -> None:
    """A step process killed before it can report (as by the kernel's OOM killer)."""
    os._exit(3)


defs = dg.Definitions(
    assets=[train_a, train_b, train_c, summary, predictions, dies_hard],
    asset_checks=[predictions_recorded],
    jobs=[
        dg.define_asset_job("pool_job", selection=dg.AssetSelection.assets(train_a, train_b, train_c, summary)),
        dg.define_asset_job("match_job", selection=dg.AssetSelection.assets(predictions)),
        dg.define_asset_job("crash_job", selection=dg.AssetSelection.assets(dies_hard)),
    ],
    executor=gpu_executor,
)


def pool_job() -> dg.JobDefinition:
    return defs.resolve_job_def("pool_job")


def match_job() -> dg.JobDefinition:
    return defs.resolve_job_def("match_job")


def crash_job() -> dg.JobDefinition:
    return defs.resolve_job_def("crash_job")


@pytest.fixture
def records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "records"
    folder.mkdir()
    monkeypatch.setenv(RECORDS_ENV, str(folder))
    monkeypatch.delenv("CVOPS_GPU_DEVICES", raising=False)
    return folder


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        yield instance


def _read(records: Path, name: str) -> dict:
    return json.loads((records / f"{name}.json").read_text())


def _execution_config(tmp_path: Path, devices: list[str]) -> dict:
    return {"devices": devices, "lock_dir": str(tmp_path / "gpu-locks"), "max_concurrent": 4, "cores": 8}


@pytest.mark.slow
def test_two_gpu_steps_share_no_device_and_the_third_waits(
    records: Path, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    run_config = {"execution": {"config": _execution_config(tmp_path, ["0", "1"])}}
    with dg.execute_job(ReconstructableJob.for_file(__file__, "pool_job"), instance, run_config=run_config) as result:
        assert result.success

    runs = {name: _read(records, name) for name in ("train_a", "train_b", "train_c")}
    assert {r["device"] for r in runs.values()} == {"0", "1"}
    first, second, third = sorted(runs.values(), key=lambda r: r["start"])
    assert first["device"] != second["device"]
    assert second["start"] < first["end"], "the first two GPU steps ran one after the other"
    assert third["start"] >= min(first["end"], second["end"]), "a third GPU step started while two held the GPUs"
    for earlier in (first, second):
        if earlier["end"] > third["start"]:
            assert third["device"] != earlier["device"], "two GPU steps ran on one device at the same time"
    assert _read(records, "summary")["device"] == "", "a step without the GPU tag saw the GPUs"
    # 8 cores shared by at most 4 steps at once: 2 threads each, so the four never oversubscribe the cores.
    assert {_read(records, name)["threads"] for name in (*runs, "summary")} == {"2"}

    starting = {
        e.step_key: e.message
        for e in instance.all_logs(result.run_id, of_type=dg.DagsterEventType.STEP_WORKER_STARTING)
    }
    # The third step's launch usually finds both devices still held by the exiting processes of the first two:
    # its process then waits for a lease itself.
    for step in ("train_a", "train_b", "train_c"):
        assert "on GPU" in starting[step] or "once one of GPUs 0, 1 is free" in starting[step]
    assert starting["summary"] == 'Executing step "summary" in a subprocess with the GPUs hidden, 2 CPU thread(s).'


@pytest.mark.slow
def test_without_devices_gpu_steps_run_on_cpu_with_partitions_and_checks(
    records: Path, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    run_config = {"execution": {"config": _execution_config(tmp_path, [])}}
    recon = ReconstructableJob.for_file(__file__, "match_job")
    with dg.execute_job(recon, instance, run_config=run_config, tags={"dagster/partition": "match_b"}) as result:
        assert result.success

    assert _read(records, "predictions-match_b")["device"] == ""
    assert not (records / "predictions-match_a.json").exists()
    materialization = instance.get_latest_materialization_event(dg.AssetKey("predictions"))
    assert materialization is not None and materialization.dagster_event.partition == "match_b"
    checks = result.get_asset_check_evaluations()
    assert [(c.check_name, c.passed) for c in checks] == [("predictions_recorded", True)]
    starting = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.STEP_WORKER_STARTING)
    assert any("on the CPU (no GPU available)" in e.message for e in starting)


def test_the_executor_needs_a_persistent_instance(records: Path) -> None:
    recon = ReconstructableJob.for_file(__file__, "pool_job")
    with dg.execute_job(recon, dg.DagsterInstance.ephemeral(), raise_on_error=False) as result:
        assert not result.success
        failure = result.get_run_failure_event()
    assert "A non-ephemeral instance is needed" in str(failure.event_specific_data.error)
    assert not list(records.iterdir()), "a step ran"


@pytest.mark.slow
def test_a_step_process_that_dies_fails_the_run_and_frees_its_device(
    records: Path, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    config = _execution_config(tmp_path, ["0"])
    recon = ReconstructableJob.for_file(__file__, "crash_job")
    with dg.execute_job(recon, instance, run_config={"execution": {"config": config}}) as result:
        assert not result.success
        failures = result.get_step_failure_events()
    assert [e.step_key for e in failures] == ["dies_hard"]
    assert "exited with code 3 without reporting" in str(failures[0].event_specific_data.error)
    lease = try_lease(["0"], Path(config["lock_dir"]))
    assert lease is not None, "the dead step's device was not freed"
    lease.close()
