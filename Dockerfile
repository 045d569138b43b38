# syntax=docker/dockerfile:1
# cvops: the Dagster code location, webserver and daemon in one image.
#   docker build -t cvops .
#   docker run -p 3000:3000 -v cvops-state:/data cvops            # UI + daemon
#   docker run -v cvops-state:/data cvops cvops demo               # the demo
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
# Dagster's asset-selection parser (cvops/datasets/dvc_tool.py).
RUN python -m venv /opt/dvc && /opt/dvc/bin/pip install "dvc>=3.50" "dvc-s3>=3.2"

WORKDIR /app
RUN pip install ${TORCH}
COPY pyproject.toml README.md LICENSE ./
COPY cvops ./cvops
COPY cvops_resources ./cvops_resources
COPY cvops_assets ./cvops_assets
COPY cvops_checks ./cvops_checks
COPY workspace.yaml ./
RUN pip install . \
    && mkdir -p /data && chown cvops:cvops /data

USER cvops
RUN git config --global user.name cvops && git config --global user.email cvops@localhost
VOLUME ["/data"]
EXPOSE 3000
ENTRYPOINT ["tini", "--"]
CMD ["sh", "-c", "cvops init && exec dagster dev -w workspace.yaml -h 0.0.0.0 -p 3000"]
