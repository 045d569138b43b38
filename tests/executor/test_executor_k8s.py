"""The cluster configuration: Definitions load with ``k8s_gpu_executor``, and the GPU tags become a Kubernetes
Job that requests ``nvidia.com/gpu`` (built with dagster-k8s's own job builder; no cluster needed)."""

import dagster as dg
from dagster._core.execution.api import create_execution_plan
from dagster_k8s.job import DagsterK8sJobConfig, construct_dagster_k8s_job, get_user_defined_k8s_config

from cvops_assets.executor import GPU_TAG, gpu_op_tags, k8s_gpu_executor


@dg.asset(op_tags=gpu_op_tags())
def trained_model() -> None: ...


@dg.asset(deps=[trained_model])
def benchmark_leaderboard() -> None: ...


def _job() -> dg.JobDefinition:
    defs = dg.Definitions(
        assets=[trained_model, benchmark_leaderboard],
        jobs=[dg.define_asset_job("train", selection=dg.AssetSelection.assets(trained_model, benchmark_leaderboard))],
        executor=k8s_gpu_executor(
            job_image="registry.example.com/cvops:1.0",
            job_namespace="cvops",
            max_concurrent=8,
            max_gpu_steps=2,
            home_volume_claim="cvops-home",
            env_vars=["AWS_REGION=eu-west-1"],
        ),
    )
    return defs.resolve_job_def("train")


def test_definitions_load_with_the_k8s_executor() -> None:
    job = _job()
    assert job.executor_def.name == "k8s_gpu_executor"
    config = dg.validate_run_config(job)["execution"]["k8s_gpu_executor"]
    assert config["job_image"] == "registry.example.com/cvops:1.0"
    assert config["job_namespace"] == "cvops"
    assert config["max_concurrent"] == 8
    assert config["tag_concurrency_limits"] == [{"key": GPU_TAG, "value": "true", "limit": 2}]
    assert config["env_vars"] == ["AWS_REGION=eu-west-1", "CVOPS_HOME=/cvops"]
    assert config["volumes"] == [{"name": "cvops-home", "persistentVolumeClaim": {"claimName": "cvops-home"}}]
    assert config["volume_mounts"] == [{"name": "cvops-home", "mount_path": "/cvops"}]


def test_gpu_steps_request_a_gpu_and_others_do_not() -> None:
    plan = create_execution_plan(_job())
    pods = {}
    for step_key in ("trained_model", "benchmark_leaderboard"):
        user_config = get_user_defined_k8s_config(plan.get_step_by_key(step_key).tags)
        job = construct_dagster_k8s_job(
            DagsterK8sJobConfig(job_image="registry.example.com/cvops:1.0", dagster_home="/opt/dagster/home"),
            args=["dagster", "api", "execute_step"],
            job_name=f"dagster-step-{step_key.replace('_', '-')}",
            user_defined_k8s_config=user_config,
        )
        pods[step_key] = job.spec.template.spec

    gpu_pod = pods["trained_model"]
    resources = gpu_pod.containers[0].resources
    assert resources.limits == {"nvidia.com/gpu": "1"}
    assert resources.requests == {"nvidia.com/gpu": "1"}
    assert [(t.key, t.operator, t.effect) for t in gpu_pod.tolerations] == [("nvidia.com/gpu", "Exists", "NoSchedule")]
    cpu_resources = pods["benchmark_leaderboard"].containers[0].resources
    assert cpu_resources is None or not (cpu_resources.limits or cpu_resources.requests)
    assert not pods["benchmark_leaderboard"].tolerations
