"""Two nodes, one platform: processes with their own scratch folders (CVOPS_HOME) run the per-match chain for
different matches against one Dagster instance on Postgres and one S3 bucket (moto's server) holding the shared
state (CVOPS_STATE_URL); one of them then exports a dataset version from samples both extracted, and the catalog
read from either node is the same."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from cvops.synth import SynthConfig, generate_store

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PROBE = REPO / "tests" / "deploy" / "node_probe.py"
BUCKET = "cvops-shared-state"


def test_two_nodes_share_one_platform_through_postgres_and_s3(
    tmp_path: Path, moto_endpoint: str, postgres_url: str
) -> None:
    store = tmp_path / "label-store"
    generate_store(store, SynthConfig(n_matches=2, seconds=4.0, width=320, height=180, seed=3))
    credentials = {"AWS_ACCESS_KEY_ID": "cvops-test-key", "AWS_SECRET_ACCESS_KEY": "cvops-test-secret"}
    boto3.client(
        "s3", endpoint_url=moto_endpoint, region_name="us-east-1",
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"], aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
    ).create_bucket(Bucket=BUCKET)  # fmt: skip
    shared = {
        **credentials,
        "CVOPS_LABEL_STORE": str(store),
        "CVOPS_POSTGRES_URL": postgres_url,
        "CVOPS_STATE_URL": f"s3://{BUCKET}/cvops",
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
        "PYTHONPATH": str(REPO),
    }
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CVOPS_HOME", "DAGSTER_HOME", "AWS_"))}
    nodes = {}
    for name in ("a", "b"):
        home = tmp_path / f"node-{name}"
        nodes[name] = {**base, **shared, "CVOPS_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}

    def run(*steps: tuple[str, str, str | None]) -> list[str]:
        """Run the steps (node, step, match) at once, one process each; their stdout."""
        processes = [
            subprocess.Popen(
                [sys.executable, str(PROBE), step, *([match] if match else [])],
                env=nodes[node], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            for node, step, match in steps
        ]  # fmt: skip
        outputs = []
        for (node, step, match), process in zip(steps, processes, strict=True):
            out, err = process.communicate(timeout=400)
            assert process.returncode == 0, f"node {node}, {step} {match or ''}:\n{err[-4000:]}"
            outputs.append(out)
        return outputs

    run(("a", "chain", "m0000"), ("b", "chain", "m0001"))  # each node its own match, at the same time
    run(("a", "selection", None))
    run(("a", "samples", "m0000"), ("b", "samples", "m0001"))
    run(("a", "export", None))  # needs the samples node b extracted: fetched from the bucket
    seen_by_a, seen_by_b = (
        json.loads(out.strip().splitlines()[-1]) for out in run(("a", "query", None), ("b", "query", None))
    )

    assert seen_by_a == seen_by_b
    assert sorted({row["match_id"] for row in seen_by_a["raw_labels"]}) == ["m0000", "m0001"]
    exported = {row["match_id"] for row in seen_by_a["dataset_samples"]}
    selected = {row["match_id"] for row in seen_by_a["match_selection"] if row["split"] in ("train", "val")}
    assert exported == selected and exported, (exported, selected)
    # The shared state is in the bucket; each node's folder holds only its caches and the dataset repository.
    for name in ("a", "b"):
        assert not list((tmp_path / f"node-{name}" / "manifests").glob("*/**/*.parquet")), name
