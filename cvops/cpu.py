"""A step's share of the CPU: how many cores it may keep busy, and how training splits them.

Numerical libraries size their thread pools from the machine, not from what else runs on it: torch, OpenMP, MKL
and OpenBLAS each start one thread per core. Two steps running at once on two cores then run four threads that
wait on each other; docs/benchmarks.md measured training at 1.3-2.8 images/s that way, against 7-24 with one
thread. So whoever runs several steps at once (``cvops_assets.executor.gpu_executor``) divides the cores between
them and tells each step process its share through :data:`STEP_CPUS_ENV` and the thread variables of
:func:`thread_environment`; the step reads it back with :func:`step_cpus`. A process started without a share
(a notebook, the in-process demo that runs one step at a time) has every core it may run on.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

STEP_CPUS_ENV = "CVOPS_STEP_CPUS"
"""Cores a step process may keep busy, set by the executor that started it."""
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
"""Read once by OpenMP, MKL and OpenBLAS when they start: they must be in the process's environment from its
start, which is why the executor sets them rather than the step."""
_CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def available_cores(cgroup_cpu_max: Path = _CGROUP_CPU_MAX) -> int:
    """The cores this process may run on: its CPU affinity, capped by a cgroup v2 CPU quota (a container's
    ``--cpus``), which ``os.cpu_count()`` ignores."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = cgroup_cpu_max.read_text().split()[:2]
    except (OSError, ValueError):
        return max(1, cores)
    if quota != "max":
        cores = min(cores, max(1, math.floor(int(quota) / int(period))))
    return max(1, cores)


def share_per_step(cores: int, concurrent_steps: int) -> int:
    """Each of ``concurrent_steps`` steps gets an equal whole number of the ``cores`` (at least one), so the
    steps of a run never ask for more threads than there are cores (unless there are more steps than cores)."""
    if cores < 1 or concurrent_steps < 1:
        raise ValueError(f"cores and concurrent steps must be at least 1, got {cores} and {concurrent_steps}")
    return max(1, cores // concurrent_steps)


def thread_environment(cpus: int) -> dict[str, str]:
    """The environment variables that give a new process ``cpus`` threads in every library's pool."""
    return {STEP_CPUS_ENV: str(cpus), **dict.fromkeys(THREAD_VARIABLES, str(cpus))}


def step_cpus(environ: Mapping[str, str] | None = None) -> int:
    """This step's share: what the executor set, else every available core."""
    value = (os.environ if environ is None else environ).get(STEP_CPUS_ENV, "")
    try:
        return max(1, int(value)) if value else available_cores()
    except ValueError:
        raise ValueError(f"${STEP_CPUS_ENV} must be a whole number of cores, got {value!r}") from None


@dataclass(frozen=True)
class TrainingThreads:
    """How a training process spends its cores: torch's intra-op threads and DataLoader worker processes."""

    cpus: int
    """The share it was given."""
    torch_threads: int
    loader_workers: int

    @classmethod
    def split(cls, cpus: int, *, on_gpu: bool) -> TrainingThreads:
        """On a GPU the main process only feeds the device: the loaders get the cores (up to 8) but one.
        On a CPU the model's arithmetic is the work: a worker per 4 cores loads ahead (on 2 shared cores one
        worker was slower than none, docs/benchmarks.md), the rest are torch threads. Workers plus threads never
        exceed the share."""
        workers = min(8, cpus - 1) if on_gpu else cpus // 4
        return cls(cpus=cpus, torch_threads=max(1, cpus - workers), loader_workers=workers)
