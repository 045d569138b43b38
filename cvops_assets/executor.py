"""``gpu_executor``: each step in its own process, a dedicated GPU for each step that needs one.

Built on Dagster's step delegation (the extension point the Docker and Kubernetes executors use): Dagster's
``StepDelegatingExecutor`` schedules steps, honours ``max_concurrent`` and tag concurrency limits and follows the
steps through the event log; :class:`LocalGpuStepHandler` starts each step as ``dagster api execute_step`` in a
local subprocess and chooses its ``CUDA_VISIBLE_DEVICES``:

- a step tagged ``cvops/gpu: "true"`` (see :func:`gpu_op_tags`) gets one free device of the pool, held by a
  file lock for as long as its process lives (:mod:`cvops_assets.gpu_devices`); a per-run tag concurrency limit
  equal to the pool size keeps the other GPU steps queued in Dagster instead of waiting in processes;
- with an empty pool (a laptop, CI), GPU steps get ``CUDA_VISIBLE_DEVICES=""`` and run on the CPU;
- other steps get ``CUDA_VISIBLE_DEVICES=""`` while the pool has devices (``hide_gpus_from_other_steps``), so an
  untagged step that asks torch for "auto" cannot land on a device a GPU step was promised;
- every step gets its share of the CPU: the run's ``cores`` divided by the steps it runs at once
  (``max_concurrent``), as ``$CVOPS_STEP_CPUS`` and the OpenMP/MKL/OpenBLAS thread variables
  (:mod:`cvops.cpu`), so concurrent steps never run more threads than there are cores; training splits its
  share between torch threads and DataLoader workers.

For clusters, :func:`k8s_gpu_executor` configures ``dagster-k8s``'s ``k8s_job_executor``: every step is a
Kubernetes Job and the same tags ask the scheduler for ``nvidia.com/gpu: 1``. See ``docs/gpu.md``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.definitions.executor_definition import multiple_process_executor_requirements
from dagster._core.events import DagsterEvent, EngineEventData
from dagster._core.execution.retries import RetryMode, get_retries_config
from dagster._core.execution.tags import get_tag_concurrency_limits_config
from dagster._core.executor.base import Executor
from dagster._core.executor.init import InitExecutorContext
from dagster._core.executor.step_delegating import (
    CheckStepHealthResult,
    StepDelegatingExecutor,
    StepHandler,
    StepHandlerContext,
)
from dagster._grpc.types import ExecuteStepArgs

from cvops.cpu import available_cores, share_per_step, thread_environment
from cvops_assets import gpu_devices
from cvops_assets.gpu_devices import (
    CUDA_VISIBLE_DEVICES,
    DeviceLease,
    DevicePool,
    default_lock_dir,
    discover_devices,
    try_lease,
)

GPU_TAG = "cvops/gpu"
"""Op tag of a step that needs a GPU (value ``"true"``); set it with :func:`gpu_op_tags`."""
GPU_TAG_VALUE = "true"
K8S_CONFIG_TAG = "dagster-k8s/config"
K8S_GPU_RESOURCE = "nvidia.com/gpu"


def gpu_op_tags() -> dict[str, Any]:
    """``op_tags`` for an asset (or check) that needs one GPU, under either executor.

    ``gpu_executor`` reads ``cvops/gpu``; ``k8s_job_executor`` reads ``dagster-k8s/config``: one
    ``nvidia.com/gpu`` (extended resources need requests equal to limits) and a toleration for the
    ``nvidia.com/gpu`` taint that GKE, EKS and AKS put on GPU nodes.
    """
    gpu = {K8S_GPU_RESOURCE: "1"}
    return {
        GPU_TAG: GPU_TAG_VALUE,
        K8S_CONFIG_TAG: {
            "container_config": {"resources": {"requests": dict(gpu), "limits": dict(gpu)}},
            "pod_spec_config": {
                "tolerations": [{"key": K8S_GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}]
            },
        },
    }


def is_gpu_step(tags: Mapping[str, str]) -> bool:
    return tags.get(GPU_TAG) == GPU_TAG_VALUE


def cuda_visible_devices(
    needs_gpu: bool, device: str | None, pool: Sequence[str], hide_from_others: bool
) -> str | None:
    """The ``CUDA_VISIBLE_DEVICES`` of a step process; ``None`` leaves the inherited value alone.

    ``""`` hides every GPU: a GPU step without a device runs on the CPU rather than on a device it was not given.
    """
    if needs_gpu:
        return device if device is not None else ""
    if pool and hide_from_others:
        return ""
    return None


class LocalGpuStepHandler(StepHandler):
    """Starts each step as a local ``dagster api execute_step`` process with its own ``CUDA_VISIBLE_DEVICES``."""

    def __init__(
        self,
        pool: DevicePool,
        lock_dir: Path,
        hide_gpus_from_other_steps: bool = True,
        wait_poll_s: float = 0.5,
        cpus_per_step: int = 1,
    ) -> None:
        super().__init__()
        self.pool = pool
        self.lock_dir = lock_dir
        self.hide_gpus_from_other_steps = hide_gpus_from_other_steps
        self.wait_poll_s = wait_poll_s
        self.cpus_per_step = cpus_per_step
        self._processes: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def name(self) -> str:
        devices = ", ".join(self.pool.devices) or "none, GPU steps run on the CPU"
        return (
            f"cvops LocalGpuStepHandler (GPUs: {devices}; from {self.pool.source}; "
            f"{self.cpus_per_step} CPU thread(s) per step)"
        )

    def launch_step(self, step_handler_context: StepHandlerContext) -> Iterator[DagsterEvent]:
        step_key = _single_step_key(step_handler_context)
        step_args = step_handler_context.execute_step_args
        needs_gpu = is_gpu_step(step_handler_context.step_tags[step_key])
        lease = try_lease(self.pool.devices, self.lock_dir) if needs_gpu and self.pool.devices else None
        try:
            command, env, where, device = self._launch_plan(step_args, needs_gpu, lease)
            yield DagsterEvent.step_worker_starting(
                step_handler_context.get_step_context(step_key),
                message=f'Executing step "{step_key}" in a subprocess{where}, {self.cpus_per_step} CPU thread(s).',
                metadata={CUDA_VISIBLE_DEVICES: device, "cpu_threads": self.cpus_per_step},
            )
            process = subprocess.Popen(command, env=env, pass_fds=(lease.fd,) if lease else ())
            if lease is not None:
                lease.note_holder(f"pid {process.pid}, run {step_args.run_id}, step {step_key}")
        finally:
            if lease is not None:
                lease.close()  # the step process holds its own copy: the device is free when it exits
        self._processes[step_key] = process

    def _launch_plan(
        self, step_args: ExecuteStepArgs, needs_gpu: bool, lease: DeviceLease | None
    ) -> tuple[list[str], dict[str, str], str, str]:
        """The command, environment, a phrase for the log ("on GPU 1") and what ``CUDA_VISIBLE_DEVICES`` is."""
        # The code location's own interpreter, not the origin's entry point: that is a bare ``dagster`` (meant for
        # containers), which need not be on the PATH of a local run worker.
        command = [step_args.job_origin.executable_path, "-m", "dagster", "api", "execute_step"]
        env = dict(os.environ)
        env.update({item["name"]: item["value"] for item in step_args.get_command_env()})
        env.update(thread_environment(self.cpus_per_step))
        if needs_gpu and self.pool.devices and lease is None:
            # Every device is held (a step of another run, or one of this run still exiting): the process waits
            # for a lease itself, so the executor keeps following the other steps meanwhile.
            waiter = [
                sys.executable,
                "-I",  # the script needs no site packages, and must not see cvops_assets' modules as top-level
                gpu_devices.__file__,
                f"--lock-dir={self.lock_dir}",
                f"--devices={','.join(self.pool.devices)}",
                f"--poll-s={self.wait_poll_s}",
                "--",
            ]
            devices = ", ".join(self.pool.devices)
            held_by = gpu_devices.holders(self.pool.devices, self.lock_dir)
            return (
                [*waiter, *command],
                env,
                f" once one of GPUs {devices} is free (held: {held_by})",
                f"first free of {devices}",
            )
        value = cuda_visible_devices(
            needs_gpu, lease.device if lease else None, self.pool.devices, self.hide_gpus_from_other_steps
        )
        if value is None:
            return command, env, "", f"{env.get(CUDA_VISIBLE_DEVICES, '(unset)')} (inherited)"
        env[CUDA_VISIBLE_DEVICES] = value
        if lease is not None:
            return command, env, f" on GPU {lease.device}", value
        return command, env, " on the CPU (no GPU available)" if needs_gpu else " with the GPUs hidden", value

    def check_step_health(self, step_handler_context: StepHandlerContext) -> CheckStepHealthResult:
        step_key = _single_step_key(step_handler_context)
        process = self._processes.get(step_key)
        if process is None:
            return CheckStepHealthResult.unhealthy(f"step {step_key} has no process in this run worker")
        code = process.poll()
        if code not in (None, 0):
            return CheckStepHealthResult.unhealthy(
                f"the process of step {step_key} (pid {process.pid}) exited with code {code} without reporting"
            )
        return CheckStepHealthResult.healthy()

    def terminate_step(self, step_handler_context: StepHandlerContext) -> Iterator[DagsterEvent]:
        step_key = _single_step_key(step_handler_context)
        process = self._processes.get(step_key)
        if process is None or process.poll() is not None:
            return
        yield DagsterEvent.engine_event(
            step_handler_context.get_step_context(step_key),
            message=f"Stopping the process of step {step_key} (pid {process.pid})",
            event_specific_data=EngineEventData(),
        )
        process.terminate()


def _single_step_key(step_handler_context: StepHandlerContext) -> str:
    keys = step_handler_context.execute_step_args.step_keys_to_execute or []
    if len(keys) != 1:
        raise dg.DagsterInvariantViolationError(f"the GPU step handler launches one step at a time, got {keys}")
    return keys[0]


GPU_EXECUTOR_CONFIG = {
    "max_concurrent": dg.Field(
        dg.Noneable(dg.IntSource),
        default_value=None,
        description="Steps running at once in one run (default: the number of cores).",
    ),
    "cores": dg.Field(
        dg.Noneable(dg.IntSource),
        default_value=None,
        description="Cores the run's steps share: each step gets cores // max_concurrent threads (at least one). "
        "Default: the cores this process may use (CPU affinity and cgroup quota). With several runs at once, give "
        "each a part of the machine.",
    ),
    "tag_concurrency_limits": get_tag_concurrency_limits_config(),
    "devices": dg.Field(
        dg.Noneable([dg.StringSource]),
        default_value=None,
        description=(
            "The GPUs GPU steps may use (CUDA_VISIBLE_DEVICES entries; [] for none). Default: $CVOPS_GPU_DEVICES, "
            "else $CUDA_VISIBLE_DEVICES, else the GPUs that nvidia-smi lists."
        ),
    ),
    "lock_dir": dg.Field(
        dg.Noneable(dg.StringSource),
        default_value=None,
        description="Folder of the device locks shared by all runs on the host (default: $CVOPS_GPU_LOCK_DIR, "
        "else <tmp>/cvops-gpu-locks-<uid>).",
    ),
    "hide_gpus_from_other_steps": dg.Field(
        bool,
        default_value=True,
        description="Give steps without the GPU tag CUDA_VISIBLE_DEVICES='' when there are GPUs.",
    ),
    "poll_interval_s": dg.Field(
        float,
        default_value=0.25,
        description="How often the run worker reads new step events from the event log.",
    ),
    "retries": get_retries_config(),
}


def build_gpu_executor(config: Mapping[str, Any]) -> StepDelegatingExecutor:
    """The executor for one run, from ``gpu_executor``'s config."""
    devices = config.get("devices")
    pool = DevicePool(tuple(devices), "executor config") if devices is not None else discover_devices()
    lock_dir = Path(config["lock_dir"]) if config.get("lock_dir") else default_lock_dir()
    tag_limits = list(config.get("tag_concurrency_limits") or [])
    if pool.devices:
        tag_limits.append({"key": GPU_TAG, "value": GPU_TAG_VALUE, "limit": len(pool.devices)})
    cores = config.get("cores") or available_cores()
    max_concurrent = config.get("max_concurrent") or cores
    handler = LocalGpuStepHandler(
        pool,
        lock_dir,
        config.get("hide_gpus_from_other_steps", True),
        cpus_per_step=share_per_step(cores, max_concurrent),
    )
    return StepDelegatingExecutor(
        handler,
        retries=RetryMode.from_config(config.get("retries", {"enabled": {}})),
        sleep_seconds=config.get("poll_interval_s", 0.25),
        check_step_health_interval_seconds=2,
        max_concurrent=max_concurrent,
        tag_concurrency_limits=tag_limits,
    )


@dg.executor(
    name="gpu_executor",
    config_schema=GPU_EXECUTOR_CONFIG,
    requirements=multiple_process_executor_requirements(),
)
def gpu_executor(init_context: InitExecutorContext) -> Executor:
    """Each step in its own process; a dedicated GPU (``CUDA_VISIBLE_DEVICES``) for each step tagged
    ``cvops/gpu: "true"``, never two on one device; GPU steps run on the CPU where there is no GPU."""
    return build_gpu_executor(init_context.executor_config)


def k8s_gpu_executor(
    *,
    job_image: str | None = None,
    job_namespace: str | None = None,
    max_concurrent: int | None = None,
    max_gpu_steps: int | None = None,
    home_volume_claim: str | None = None,
    home_mount_path: str = "/cvops",
    env_vars: Sequence[str] = (),
    step_resources: Mapping[str, Any] | None = None,
    gpu_step_resources: Mapping[str, Any] | None = None,
    gpu_steps: Sequence[str] = (),
) -> dg.ExecutorDefinition:
    """``dagster-k8s``'s ``k8s_job_executor``, configured for cvops: every step a Kubernetes Job; steps tagged
    with :func:`gpu_op_tags` request ``nvidia.com/gpu: 1`` (the scheduler gives each its own GPU).

    Steps share state through files, so all pods mount one ``ReadWriteMany`` volume claim as ``CVOPS_HOME``
    (``home_volume_claim``); ``max_gpu_steps`` caps the GPU steps of one run (the cluster's quota caps the rest).
    ``step_resources`` (a container's ``resources``: requests, limits) applies to every step; the ops named in
    ``gpu_steps`` get ``gpu_step_resources`` on top (dagster-k8s deep-merges both with the GPU tags).
    """
    from dagster_k8s import k8s_job_executor  # the Kubernetes client costs ~1 s to import: only when asked for

    config: dict[str, Any] = {"env_vars": list(env_vars)}
    if job_image:
        config["job_image"] = job_image
    if job_namespace:
        config["job_namespace"] = job_namespace
    if max_concurrent:
        config["max_concurrent"] = max_concurrent
    if max_gpu_steps:
        config["tag_concurrency_limits"] = [{"key": GPU_TAG, "value": GPU_TAG_VALUE, "limit": max_gpu_steps}]
    if home_volume_claim:
        config["volumes"] = [{"name": "cvops-home", "persistentVolumeClaim": {"claimName": home_volume_claim}}]
        config["volume_mounts"] = [{"name": "cvops-home", "mount_path": home_mount_path}]
        config["env_vars"].append(f"CVOPS_HOME={home_mount_path}")
    if step_resources:
        config["step_k8s_config"] = {"container_config": {"resources": dict(step_resources)}}
    if gpu_step_resources and gpu_steps:
        gpu_config = {"container_config": {"resources": dict(gpu_step_resources)}}
        config["per_step_k8s_config"] = {name: gpu_config for name in gpu_steps}
    return k8s_job_executor.configured(config, name="k8s_gpu_executor")
