"""The Dagster release cvops is tested with, and the lock file the Docker image installs from.

``cvops_assets/executor.py`` builds on private ``dagster._core`` modules (step delegation), which change between
minor releases: pyproject.toml pins the tested range, and these tests fail with a message that says what to do when
the environment or the lock file holds something else.
"""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
DAGSTER_PACKAGES = ("dagster", "dagster-webserver", "dagster-aws", "dagster-k8s", "dagster-postgres")


def _pyproject_requirements() -> dict[str, Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = (Requirement(line) for line in project["dependencies"])
    return {canonicalize_name(req.name): req for req in requirements}


def _lock_pins(lock: Path) -> dict[str, str]:
    pins = {}
    for line in lock.read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            name, _, pinned = line.partition("==")
            pins[canonicalize_name(name)] = pinned.split(";")[0].strip()
    return pins


@pytest.mark.parametrize("package", DAGSTER_PACKAGES)
def test_dagster_is_pinned_to_a_tested_range_with_an_upper_bound(package: str) -> None:
    spec = _pyproject_requirements()[package].specifier
    assert any(s.operator == "<" for s in spec), f"{package} in pyproject.toml needs an upper bound, has '{spec}'"


@pytest.mark.parametrize("package", DAGSTER_PACKAGES)
def test_installed_dagster_is_a_tested_release(package: str) -> None:
    spec = _pyproject_requirements()[package].specifier
    installed = version(package)
    assert spec.contains(installed, prereleases=True), (
        f"{package} {installed} is installed, but cvops is tested with {package}{spec} (pyproject.toml): "
        "cvops_assets/executor.py imports private dagster._core modules that change between releases. "
        "Install from requirements.lock.txt (or `make install`), or run the whole suite on the new release and "
        "then widen the pin (docs/deploy.md, 'Upgrading')."
    )


def test_lock_file_pins_every_runtime_dependency_within_pyproject() -> None:
    """requirements.lock.txt is what the image installs: it must satisfy pyproject.toml (run `make lock`)."""
    pins = _lock_pins(REPO / "requirements.lock.txt")
    for name, req in _pyproject_requirements().items():
        if name == "torch":  # installed first, from the index that gives the wanted build (deploy/lock-overrides.txt)
            assert name not in pins, "torch must stay out of the lock (deploy/lock-overrides.txt)"
            continue
        assert name in pins, f"requirements.lock.txt lacks {name}: run `make lock`"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock.txt pins {name}=={pins[name]}, outside pyproject.toml's '{req.specifier}': "
            "run `make lock`"
        )


def test_dvc_lock_pins_the_dvc_of_the_image() -> None:
    pins = _lock_pins(REPO / "requirements-dvc.lock.txt")
    wanted = [
        Requirement(line)
        for line in (REPO / "deploy/dvc-requirements.in").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    for req in wanted:
        assert req.specifier.contains(pins[canonicalize_name(req.name)]), f"run `make lock`: {req} changed"
