"""Wall time of one run of N trivial assets under Dagster's multiprocess executor and under ``gpu_executor``.

Both start a process per step; the figure says what the GPU executor's ``dagster api execute_step`` processes cost
compared with the multiprocess executor's forkserver children. Run from the repository root:

    .venv/bin/python benchmarks/executor_overhead.py --assets 4 --max-concurrent 2 --repeats 2
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableJob

from cvops_assets.executor import gpu_executor, gpu_op_tags

N_ASSETS = 8


def _make_asset(index: int) -> dg.AssetsDefinition:
    @dg.asset(name=f"trivial_{index}", op_tags=gpu_op_tags() if index % 2 else {})
    def trivial() -> int:
        return index

    return trivial


ASSETS = [_make_asset(i) for i in range(N_ASSETS)]


def _job(executor: dg.ExecutorDefinition, n_assets: int) -> dg.JobDefinition:
    selection = dg.AssetSelection.assets(*ASSETS[:n_assets])
    defs = dg.Definitions(assets=ASSETS, jobs=[dg.define_asset_job("bench", selection=selection)], executor=executor)
    return defs.resolve_job_def("bench")


def multiprocess_job_4() -> dg.JobDefinition:
    return _job(dg.multiprocess_executor, 4)


def gpu_job_4() -> dg.JobDefinition:
    return _job(gpu_executor, 4)


def multiprocess_job_8() -> dg.JobDefinition:
    return _job(dg.multiprocess_executor, 8)


def gpu_job_8() -> dg.JobDefinition:
    return _job(gpu_executor, 8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, choices=[4, 8], default=4)
    parser.add_argument("--max-concurrent", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home, dg.instance_for_test(temp_dir=home) as instance:
        gpu_config = {"devices": ["0", "1"], "lock_dir": str(Path(home) / "gpu-locks")}
        for label, prefix, config in (
            ("multiprocess_executor", "multiprocess_job", {}),
            ("gpu_executor, 2 simulated GPUs", "gpu_job", gpu_config),
        ):
            recon = ReconstructableJob.for_file(__file__, f"{prefix}_{args.assets}")
            run_config = {"execution": {"config": {"max_concurrent": args.max_concurrent, **config}}}
            times = []
            for _ in range(args.repeats):
                started = time.perf_counter()
                with dg.execute_job(recon, instance, run_config=run_config) as result:
                    assert result.success
                times.append(time.perf_counter() - started)
            print(
                f"{label}: {args.assets} steps, max_concurrent {args.max_concurrent}: median "
                f"{statistics.median(times):.1f} s per run ({', '.join(f'{t:.1f}' for t in times)})"
            )


if __name__ == "__main__":
    main()
