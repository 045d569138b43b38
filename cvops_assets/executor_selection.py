"""Which executor the Definitions use: ``gpu_executor`` by default, ``k8s_job_executor`` with ``CVOPS_EXECUTOR=k8s``.

The choice is read when the code location loads, so one image serves a laptop, a single server and a cluster;
the Helm values set ``CVOPS_EXECUTOR=k8s`` and the ``CVOPS_K8S_*`` settings (:class:`cvops.kubernetes.KubernetesConfig`)
on the user code deployment.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

import dagster as dg

from cvops.kubernetes import KubernetesConfig, executor_kind
from cvops_assets.executor import gpu_executor, is_gpu_step, k8s_gpu_executor


def gpu_step_names(assets: Iterable[object]) -> list[str]:
    """The ops among ``assets`` tagged with :func:`~cvops_assets.executor.gpu_op_tags`."""
    return sorted(
        a.node_def.name for a in assets if isinstance(a, dg.AssetsDefinition) and is_gpu_step(a.node_def.tags)
    )


def executor_from_env(gpu_steps: Iterable[str], environ: Mapping[str, str] | None = None) -> dg.ExecutorDefinition:
    """``gpu_executor``, or with ``CVOPS_EXECUTOR=k8s`` the Kubernetes executor configured from ``CVOPS_K8S_*``:
    every step requests CPU and memory, and the ``gpu_steps`` ops the GPU settings and one ``nvidia.com/gpu``."""
    env = os.environ if environ is None else environ
    if executor_kind(env) == "gpu":
        return gpu_executor
    k8s = KubernetesConfig.from_env(env)
    return k8s_gpu_executor(
        job_image=k8s.job_image,
        job_namespace=k8s.namespace,
        max_concurrent=k8s.max_concurrent,
        max_gpu_steps=k8s.max_gpu_steps,
        home_volume_claim=k8s.home_claim,
        env_vars=k8s.forwarded_variables(env),
        step_resources=_resources(k8s.step_cpu, k8s.step_memory),
        gpu_step_resources=_resources(k8s.gpu_step_cpu, k8s.gpu_step_memory),
        gpu_steps=list(gpu_steps),
    )


def _resources(cpu: str, memory: str) -> dict[str, dict[str, str]]:
    # No CPU limit: a limit throttles a step that could use idle cores; memory is limited, since a step over its
    # request would be the first one the node evicts anyway.
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}}
