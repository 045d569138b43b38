"""``CVOPS_EXECUTOR=k8s``: the Definitions load with dagster-k8s's executor, its config passes dagster-k8s's
schema, GPU steps request ``nvidia.com/gpu`` with the tolerations and every step CPU and memory from settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cvops.errors import InputError
from cvops.kubernetes import KubernetesConfig, executor_kind
from cvops_assets.executor import gpu_executor
from cvops_assets.executor_selection import executor_from_env

REPO = Path(__file__).resolve().parents[2]
K8S_ENV = {
    "CVOPS_EXECUTOR": "k8s",
    "CVOPS_K8S_JOB_IMAGE": "registry.example.com/cvops:1.0",
    "CVOPS_K8S_NAMESPACE": "cvops",
    "CVOPS_K8S_STEP_CPU": "500m",
    "CVOPS_K8S_STEP_MEMORY": "2Gi",
    "CVOPS_K8S_GPU_STEP_MEMORY": "24Gi",
    "CVOPS_K8S_MAX_GPU_STEPS": "2",
    "CVOPS_DVC_REMOTE": "s3://datasets/dvc",
}


def test_default_stays_the_gpu_executor() -> None:
    assert executor_from_env(["trained_model"], {}) is gpu_executor
    assert executor_from_env(["trained_model"], {"CVOPS_EXECUTOR": "gpu"}) is gpu_executor


@pytest.mark.parametrize(
    ("environ", "field"),
    [
        ({"CVOPS_EXECUTOR": "docker"}, "CVOPS_EXECUTOR"),
        ({"CVOPS_K8S_STEP_MEMORY": "4 GB"}, "CVOPS_K8S_STEP_MEMORY"),
        ({"CVOPS_K8S_MAX_GPU_STEPS": "0"}, "CVOPS_K8S_MAX_GPU_STEPS"),
    ],
)
def test_bad_settings_name_their_variable(environ: dict[str, str], field: str) -> None:
    with pytest.raises(InputError) as error:
        executor_kind(environ)
        KubernetesConfig.from_env(environ)
    assert error.value.field == field


@pytest.mark.slow
def test_definitions_load_with_the_k8s_executor_and_steps_get_their_resources() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CVOPS_K8S_", "CVOPS_EXECUTOR"))}
    done = subprocess.run(
        [sys.executable, str(REPO / "tests" / "deploy" / "k8s_probe.py")],
        env={**env, **K8S_ENV, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    probe = json.loads(done.stdout.strip().splitlines()[-1])

    assert probe["executor"] == "k8s_gpu_executor"
    config = probe["config"]
    assert (config["job_image"], config["job_namespace"]) == ("registry.example.com/cvops:1.0", "cvops")
    assert config["tag_concurrency_limits"] == [{"key": "cvops/gpu", "value": "true", "limit": 2}]
    assert "CVOPS_DVC_REMOTE" in config["env_vars"]  # forwarded by name: the value stays in the run pod's env

    gpu, cpu = probe["pods"]["trained_model"], probe["pods"]["export_dataset_version"]
    assert gpu["requests"] == {"cpu": "4", "memory": "24Gi", "nvidia.com/gpu": "1"}
    assert gpu["limits"] == {"memory": "24Gi", "nvidia.com/gpu": "1"}
    assert gpu["tolerations"] == ["nvidia.com/gpu"]
    assert cpu["requests"] == {"cpu": "500m", "memory": "2Gi"} and cpu["limits"] == {"memory": "2Gi"}
    assert cpu["tolerations"] == []
