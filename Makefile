# Two commands on a fresh machine: `make demo` and `make test` (see README.md).
# Each creates .venv and installs what it needs first; re-running is cheap (the install step is skipped when
# pyproject.toml has not changed).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of PyTorch keeps the install small; on a GPU machine, set TORCH to the build you want,
# e.g. `make demo TORCH="torch --index-url https://download.pytorch.org/whl/cu124"`.
TORCH ?= torch==2.13.0

DVC_VENV ?= .venv-dvc

export CVOPS_HOME ?= $(CURDIR)/.cvops
export DAGSTER_HOME ?= $(CVOPS_HOME)/dagster
# DVC runs from its own environment: its dependencies pin an antlr4 that breaks Dagster (cvops/datasets/dvc_tool.py).
export CVOPS_DVC ?= $(CURDIR)/$(DVC_VENV)/bin/dvc

.PHONY: install demo test lint validate dev lock clean distclean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

$(DVC_VENV)/.installed: pyproject.toml
	test -x $(DVC_VENV)/bin/python || $(PYTHON) -m venv $(DVC_VENV)
	$(DVC_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(DVC_VENV)/bin/python -m pip install --quiet "dvc>=3.50" "dvc-s3>=3.2"
	touch $@

install: $(BIN)/.installed $(DVC_VENV)/.installed

## Set up, then run the main job end to end on synthetic matches.
demo: install
	$(BIN)/cvops demo

## Set up, then lint, validate the Dagster definitions and run the whole test suite (slow tests included).
test: install lint validate
	$(BIN)/python -m pytest -n auto --dist loadfile

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

validate: install
	$(BIN)/cvops init
	$(BIN)/dagster definitions validate -w workspace.yaml

## The Dagster UI and daemon on http://127.0.0.1:3000 (sensors run; backfills can be launched).
dev: install
	$(BIN)/cvops init
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

## Re-resolve the lock files the Docker image installs from (after a change of dependencies in pyproject.toml).
LOCK_PLATFORM := --python-version 3.11 --python-platform x86_64-manylinux_2_28 --quiet
lock: $(BIN)/.installed
	$(BIN)/uv pip compile pyproject.toml $(LOCK_PLATFORM) --overrides deploy/lock-overrides.txt -o requirements.lock.txt
	$(BIN)/uv pip compile deploy/dvc-requirements.in $(LOCK_PLATFORM) -o requirements-dvc.lock.txt

clean:
	rm -rf $(CVOPS_HOME)

distclean: clean
	rm -rf $(VENV) $(DVC_VENV)
