"""Run in a subprocess by test_deploy_k8s.py: load the Definitions as a code server would (the environment is
read at import), validate the retrain job's executor config against dagster-k8s's schema, and build the step
Jobs of one GPU and one CPU step as dagster-k8s's executor would; print what matters as JSON."""

from __future__ import annotations

import json

import dagster as dg
from dagster._core.execution.api import create_execution_plan
from dagster_k8s.container_context import K8sContainerContext
from dagster_k8s.job import (
    DagsterK8sJobConfig,
    UserDefinedDagsterK8sConfig,
    construct_dagster_k8s_job,
    get_user_defined_k8s_config,
)

from cvops_assets.definitions import defs

STEPS = ("trained_model", "export_dataset_version")


def _context(config: dict) -> K8sContainerContext:
    return K8sContainerContext(run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(config))


def main() -> None:
    job = defs.resolve_job_def("retrain")
    execution = dg.validate_run_config(job)["execution"]  # raises if the config breaks dagster-k8s's schema
    config = execution["k8s_gpu_executor"]
    plan = create_execution_plan(job)
    pods = {}
    for step_key in STEPS:
        step = plan.get_step_by_key(step_key)
        # The merge order of dagster-k8s's K8sStepHandler: executor step config, step tags, per-step config.
        context = (
            _context(config.get("step_k8s_config", {}))
            .merge(K8sContainerContext(run_k8s_config=get_user_defined_k8s_config(step.tags)))
            .merge(_context(config.get("per_step_k8s_config", {}).get(step.op_name, {})))
        )
        k8s_job = construct_dagster_k8s_job(
            DagsterK8sJobConfig(job_image=config.get("job_image", "cvops:test"), dagster_home="/opt/dagster/home"),
            args=["dagster", "api", "execute_step"],
            job_name=f"dagster-step-{step_key.replace('_', '-')}",
            user_defined_k8s_config=context.run_k8s_config,
        )
        pod = k8s_job.spec.template.spec
        resources = pod.containers[0].resources
        pods[step_key] = {
            "requests": resources.requests,
            "limits": resources.limits,
            "tolerations": [t.key for t in pod.tolerations or []],
            "env": sorted(e.name for e in pod.containers[0].env or []),
        }
    print(json.dumps({"executor": job.executor_def.name, "config": config, "pods": pods}))


if __name__ == "__main__":
    main()
