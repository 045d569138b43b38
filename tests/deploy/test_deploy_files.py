"""The deployment files, read as the tools that use them would (no Docker engine or cluster here): the compose
file and the Helm values parse and agree with the image's roles, ports and settings; the image's scripts run."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import yaml

from cvops.kubernetes import KubernetesConfig, executor_kind

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
ROLES = {"dev", "code-server", "webserver", "daemon"}
CVOPS_SERVICES = ("cvops-code", "webserver", "daemon")


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _module_name() -> str:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["dagster"]["module_name"]


def test_compose_runs_postgres_webserver_daemon_and_code_server_with_optional_minio() -> None:
    compose = _load(DEPLOY / "compose" / "docker-compose.yaml")
    services = compose["services"]
    assert set(services) == {"postgres", *CVOPS_SERVICES, "minio"}
    assert services["minio"]["profiles"] == ["minio"] and "profiles" not in services["webserver"]
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    for name in CVOPS_SERVICES:
        service = services[name]
        assert service["command"][0] in ROLES, name
        assert service["volumes"] == ["cvops-data:/data"], name  # one state volume (CVOPS_HOME=/data in the image)
        assert service["depends_on"]["postgres"] == {"condition": "service_healthy"}, name
        assert service["environment"]["CVOPS_POSTGRES_URL"].startswith("postgresql://"), name
    assert services["webserver"]["depends_on"]["cvops-code"] == {"condition": "service_healthy"}

    workspace = _load(DEPLOY / "compose" / "workspace.yaml")["load_from"][0]["grpc_server"]
    assert (workspace["host"], workspace["port"]) == ("cvops-code", 4000)
    assert services["webserver"]["environment"]["CVOPS_WORKSPACE"] == "/app/deploy/compose/workspace.yaml"
    # Passwords only by reference: every value that looks like a secret is a ${...} interpolation.
    text = (DEPLOY / "compose" / "docker-compose.yaml").read_text()
    for line in text.splitlines():
        if re.search(r"PASSWORD\s*:", line):
            assert "${" in line, line


def test_helm_values_deploy_the_cvops_image_on_postgres_with_the_k8s_executor() -> None:
    values = _load(DEPLOY / "helm" / "values.yaml")
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert deployment["codeServerArgs"] == ["-m", _module_name()]
    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": True}
    env = {item["name"]: item["value"] for item in deployment["env"]}
    assert executor_kind(env) == "k8s"
    KubernetesConfig.from_env(env)  # every CVOPS_K8S_* value is valid
    assert not [name for name in env if re.search("PASSWORD|SECRET|TOKEN|KEY", name)], "secrets go in envSecrets"
    assert {"name": "cvops-secrets"} in deployment["envSecrets"]
    mounts = {m["name"]: m["mountPath"] for m in deployment["volumeMounts"]}
    assert mounts["cvops-home"] == env["CVOPS_HOME"]

    assert values["postgresql"]["enabled"] is False and values["global"]["postgresqlSecretName"] == "cvops-secrets"
    launcher = values["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    assert {"name": "cvops-secrets"} in launcher["config"]["k8sRunLauncher"]["envSecrets"]
    daemon = values["dagsterDaemon"]
    assert daemon["runCoordinator"]["type"] == "QueuedRunCoordinator" and daemon["runMonitoring"]["enabled"]
    assert values["telemetry"] == {"enabled": False}


def test_dockerfile_copies_what_exists_installs_from_the_locks_and_has_a_healthcheck() -> None:
    lines = (REPO / "Dockerfile").read_text().splitlines()
    for line in lines:
        if line.startswith("COPY "):
            *sources, _ = line.split()[1:]
            for source in sources:
                assert (REPO / source).exists(), f"Dockerfile copies {source}, which does not exist"
    text = "\n".join(lines)
    assert "pip install --no-deps -r requirements.lock.txt" in text
    assert "/opt/dvc/bin/pip install --no-deps -r /tmp/requirements-dvc.lock.txt" in text
    assert re.search(r"^HEALTHCHECK .*healthcheck\.sh", text, re.MULTILINE)
    assert 'ENTRYPOINT ["tini", "--", "entrypoint.sh"]' in text and 'CMD ["dev"]' in text
    for package in ("cvops", "cvops_resources", "cvops_assets", "cvops_checks", "cvops_cli"):
        assert f"COPY {package} ./{package}" in text, package


def test_entrypoint_knows_every_role_and_runs_other_commands_as_given() -> None:
    entrypoint, healthcheck = DEPLOY / "entrypoint.sh", DEPLOY / "healthcheck.sh"
    for script in (entrypoint, healthcheck):
        subprocess.run(["sh", "-n", str(script)], check=True)
    roles = set(re.findall(r"^\s+([a-z-]+)\) exec ", entrypoint.read_text(), re.MULTILINE))
    assert roles == ROLES
    assert "-m cvops_assets.definitions" in entrypoint.read_text() and _module_name() == "cvops_assets.definitions"
    passthrough = subprocess.run(["sh", str(entrypoint), "echo", "a run worker"], capture_output=True, text=True)
    assert passthrough.returncode == 0 and passthrough.stdout == "a run worker\n"
