# syntax=docker/dockerfile:1
# cvops: one image for every role of a Dagster deployment (docs/deploy.md).
#   docker build -t cvops .
#   docker run -p 3000:3000 -v cvops-state:/data cvops                 # laptop / one machine: dagster dev
#   docker run -v cvops-state:/data cvops cvops demo                    # the demo
#   docker compose -f deploy/compose/docker-compose.yaml up            # Postgres, webserver, daemon, code server
#   Kubernetes: Dagster's Helm chart with deploy/helm/values.yaml (user code deployment from this image)
# Roles (deploy/entrypoint.sh): dev (default), code-server, webserver, daemon; any other command runs as given.
# For a GPU image, build with --build-arg TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128"
# on an NVIDIA CUDA base image and run with --gpus all.

FROM python:3.11-slim-bookworm AS base
ARG TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CVOPS_HOME=/data \
    DAGSTER_HOME=/data/dagster \
    CVOPS_DVC=/opt/dvc/bin/dvc

# git is needed by the dataset repository (DVC versions are git commits); no system ffmpeg is needed.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git tini \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 cvops

# DVC is a tool cvops runs; it gets its own environment because its dependencies pin an antlr4 that breaks
# Dagster's asset-selection parser (cvops/datasets/dvc_tool.py). Pinned, with all its dependencies, by the lock.
COPY requirements-dvc.lock.txt /tmp/
RUN python -m venv /opt/dvc && /opt/dvc/bin/pip install --no-deps -r /tmp/requirements-dvc.lock.txt

WORKDIR /app
# PyTorch first, from the index that gives the wanted build; then every other dependency at the version the lock
# file pins (make lock), so an image built later is the image that was tested; then cvops itself, without
# resolving anything again.
RUN pip install ${TORCH}
COPY requirements.lock.txt ./
RUN pip install --no-deps -r requirements.lock.txt
COPY pyproject.toml README.md LICENSE ./
COPY cvops ./cvops
COPY cvops_resources ./cvops_resources
COPY cvops_assets ./cvops_assets
COPY cvops_checks ./cvops_checks
COPY cvops_cli ./cvops_cli
COPY workspace.yaml ./
COPY deploy/entrypoint.sh deploy/healthcheck.sh /usr/local/bin/
COPY deploy/compose/workspace.yaml ./deploy/compose/workspace.yaml
RUN pip install --no-deps . \
    && pip check \
    && mkdir -p /data && chown cvops:cvops /data

USER cvops
RUN git config --global user.name cvops && git config --global user.email cvops@localhost
VOLUME ["/data"]
# 3000: the UI (dev, webserver); 4000: the code location's gRPC server (code-server).
EXPOSE 3000 4000
HEALTHCHECK --interval=30s --timeout=10s --start-period=120s --retries=3 CMD ["healthcheck.sh"]
ENTRYPOINT ["tini", "--", "entrypoint.sh"]
CMD ["dev"]
