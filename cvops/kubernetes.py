"""How steps run on Kubernetes (``CVOPS_EXECUTOR=k8s``): the settings behind the ``k8s_job_executor`` config.

Read from ``CVOPS_K8S_*`` variables (README's table, docs/deploy.md) so that one image serves every cluster: the
Helm values set them on the user code deployment, whose run workers build the executor. No Kubernetes import
here: the Dagster layer (``cvops_assets.executor``) turns these settings into dagster-k8s's config.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields

from cvops.errors import InputError

EXECUTOR_ENV = "CVOPS_EXECUTOR"
EXECUTORS = ("gpu", "k8s")
# A Kubernetes resource quantity: "500m", "2", "1.5", "4Gi", "512Mi" ...
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
# Platform settings a step pod needs and that are no secret: forwarded by name when set (their values land in
# the Job spec). Secrets (AWS keys, CVOPS_POSTGRES_URL) reach pods through Kubernetes Secrets instead (the Helm
# values' envSecrets), never through here.
FORWARDED_VARIABLES = (
    "CVOPS_LABEL_STORE",
    "CVOPS_DVC_REMOTE",
    "CVOPS_MODEL_REGISTRY",
    "CVOPS_DATASET_GIT_REMOTE",
    "CVOPS_STATE_URL",
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
)


def executor_kind(environ: Mapping[str, str] | None = None) -> str:
    """``"gpu"`` (the default: local processes, GPUs leased per step) or ``"k8s"`` (a Kubernetes Job per step)."""
    env = os.environ if environ is None else environ
    kind = env.get(EXECUTOR_ENV, "gpu").strip().lower() or "gpu"
    if kind not in EXECUTORS:
        raise InputError(f"unknown executor {kind!r}; expected one of {', '.join(EXECUTORS)}", field=EXECUTOR_ENV)
    return kind


@dataclass(frozen=True)
class KubernetesConfig:
    """Step pods of ``k8s_job_executor``; each field is read from ``CVOPS_K8S_<FIELD>`` (upper case)."""

    job_image: str | None = None
    """Image of the step pods; unset: the image of the run (the user code deployment's, as Dagster sets it)."""
    namespace: str | None = None
    """Namespace of the step Jobs; unset: the run's."""
    step_cpu: str = "1"
    """CPU request of a step without a GPU (a Kubernetes quantity: "500m", "2")."""
    step_memory: str = "4Gi"
    """Memory request and limit of a step without a GPU."""
    gpu_step_cpu: str = "4"
    """CPU request of a GPU step (training, inference, benchmark), which also requests one nvidia.com/gpu."""
    gpu_step_memory: str = "16Gi"
    """Memory request and limit of a GPU step."""
    max_concurrent: int | None = None
    """Step pods of one run at once; unset: no limit but the cluster's quota."""
    max_gpu_steps: int | None = None
    """GPU step pods of one run at once; unset: as many as the cluster schedules."""
    home_claim: str | None = None
    """A ReadWriteMany PersistentVolumeClaim mounted as CVOPS_HOME in every step pod; unset: none (state on S3)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KubernetesConfig:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for item in fields(cls):
            name = f"CVOPS_K8S_{item.name.upper()}"
            raw = env.get(name, "").strip()
            if not raw:
                continue
            if item.name.startswith("max_"):
                if not raw.isdigit() or int(raw) < 1:
                    raise InputError(f"must be a whole number, at least 1; got {raw!r}", field=name)
                values[item.name] = int(raw)
            else:
                values[item.name] = raw
        config = cls(**values)  # type: ignore[arg-type]
        for item in fields(cls):
            value = getattr(config, item.name)
            if item.name.endswith(("_cpu", "_memory")) and not _QUANTITY.match(value):
                raise InputError(
                    f"not a Kubernetes quantity: {value!r} (e.g. '500m', '2', '4Gi')",
                    field=f"CVOPS_K8S_{item.name.upper()}",
                )
        return config

    def forwarded_variables(self, environ: Mapping[str, str] | None = None) -> list[str]:
        """Names of the platform variables set here, for the step pods to receive (values from the run pod)."""
        env = os.environ if environ is None else environ
        return [name for name in FORWARDED_VARIABLES if env.get(name)]
