"""The catalog in object storage (``CVOPS_STATE_URL``) on moto's S3 server: the same tables and queries as on local
disk, and two processes with their own scratch folders writing one table at once lose no row."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from cvops.catalog import Catalog, Manifests, S3Manifests
from cvops.errors import InputError
from cvops.settings import CvopsPaths

REPO = Path(__file__).resolve().parents[2]
BUCKET = "cvops-state"


@pytest.fixture
def state_url(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    import boto3

    for name, value in {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "cvops-test-key",
        "AWS_SECRET_ACCESS_KEY": "cvops-test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    yield f"s3://{BUCKET}/platform"
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def _labels(frames: range) -> pd.DataFrame:
    return pd.DataFrame(
        {"frame": frames, "track_id": 1, "role": "player", "x": 1.0, "y": 2.0, "w": 3.0, "h": 4.0, "is_keyframe": False}
    )


def _sample(version: int, match_id: str, frame: int) -> pd.DataFrame:
    return pd.DataFrame(
        [{"version": version, "match_id": match_id, "frame": frame, "split": "train", "md5": f"{frame:032x}",
          "path": f"images/{match_id}/{frame:06d}.jpg"}]
    )  # fmt: skip


def test_tables_in_object_storage_read_and_query_as_on_local_disk(tmp_path: Path, state_url: str) -> None:
    remote = Catalog.at(CvopsPaths.from_env({"CVOPS_HOME": str(tmp_path / "a"), "CVOPS_STATE_URL": state_url}))
    local = Catalog(tmp_path / "local.duckdb", Manifests(tmp_path / "local"))
    assert remote.in_object_storage and not local.in_object_storage
    for catalog in (remote, local):
        catalog.write("raw_labels", _labels(range(1, 4)), "m1")
        catalog.write("raw_labels", _labels(range(1, 3)), "m2")
        catalog.upsert("raw_labels", _labels(range(3, 5)).assign(x=9.0), key=["frame", "track_id"], match_id="m2")
        catalog.write("dataset_samples", _sample(1, "m1", 10))

    assert remote.manifests.match_ids("raw_labels") == local.manifests.match_ids("raw_labels") == ["m1", "m2"]
    pd.testing.assert_frame_equal(remote.read("raw_labels"), local.read("raw_labels"))
    pd.testing.assert_frame_equal(remote.read("raw_labels", "m2", columns=["x"]), local.read("raw_labels", "m2", ["x"]))
    sql = "SELECT match_id, count(*) AS n, sum(x) AS x FROM raw_labels GROUP BY 1 ORDER BY 1"
    pd.testing.assert_frame_equal(remote.query(sql), local.query(sql))
    assert remote.query("SELECT count(*) AS n FROM match_sync")["n"].tolist() == [0]  # a table with no data yet

    remote.manifests.delete("raw_labels", "m2")
    assert remote.manifests.match_ids("raw_labels") == ["m1"]
    assert not list((tmp_path / "a").glob("**/*.parquet")), "nothing of the state on local disk"


def test_an_upsert_that_read_a_stale_object_writes_again_on_the_new_one(tmp_path: Path, state_url: str) -> None:
    """The race the condition guards against, made certain: between this writer's read and its write another
    writer adds a row; the server refuses the stale write (412) and the retry keeps both rows."""
    manifests = S3Manifests(state_url)
    manifests.write("dataset_samples", _sample(1, "m1", 1))
    stale = manifests._get(manifests.key("dataset_samples"))
    manifests.upsert("dataset_samples", _sample(1, "m1", 2), key=["version", "match_id", "frame"])  # the other
    reads = iter([stale])
    real_get = manifests._get
    manifests._get = lambda key: next(reads, None) or real_get(key)  # type: ignore[method-assign]
    manifests.upsert("dataset_samples", _sample(1, "m1", 3), key=["version", "match_id", "frame"])
    assert sorted(manifests.read("dataset_samples")["frame"]) == [1, 2, 3]


def test_state_url_must_be_s3() -> None:
    with pytest.raises(InputError) as error:
        S3Manifests("/mnt/state")
    assert error.value.field == "CVOPS_STATE_URL"


WRITER = textwrap.dedent(
    """
    import sys
    import pandas as pd
    from cvops.catalog import Catalog
    from cvops.settings import CvopsPaths

    match_id, count = sys.argv[1], int(sys.argv[2])
    catalog = Catalog.at(CvopsPaths.from_env())
    catalog.write("raw_labels", pd.DataFrame({"frame": range(1, 4), "track_id": 1, "role": "player", "x": 1.0,
        "y": 2.0, "w": 3.0, "h": 4.0, "is_keyframe": False}), match_id)
    for frame in range(count):  # one upsert per row: the most read-modify-write races two writers can have
        row = {"version": 1, "match_id": match_id, "frame": frame, "split": "train", "md5": "0" * 32,
               "path": f"images/{match_id}/{frame:06d}.jpg"}
        catalog.upsert("dataset_samples", pd.DataFrame([row]), key=["version", "match_id", "frame"])
    """
)


def test_two_processes_with_their_own_scratch_folders_lose_no_row(tmp_path: Path, state_url: str) -> None:
    count = 12
    processes = []
    for match_id in ("m1", "m2"):
        env = {**_environ(), "CVOPS_HOME": str(tmp_path / f"node-{match_id}"), "CVOPS_STATE_URL": state_url}
        processes.append(
            subprocess.Popen(
                [sys.executable, "-c", WRITER, match_id, str(count)],
                env=env,
                cwd=REPO,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for process in processes:
        _, stderr = process.communicate(timeout=240)
        assert process.returncode == 0, stderr[-3000:]

    views = [
        Catalog.at(CvopsPaths.from_env({"CVOPS_HOME": str(tmp_path / f"node-{m}"), "CVOPS_STATE_URL": state_url}))
        for m in ("m1", "m2")
    ]
    sql = "SELECT match_id, frame FROM dataset_samples ORDER BY 1, 2"
    first, second = (view.query(sql) for view in views)
    pd.testing.assert_frame_equal(first, second)
    assert len(first) == 2 * count and first.groupby("match_id").size().tolist() == [count, count]
    assert views[0].manifests.match_ids("raw_labels") == ["m1", "m2"]


def _environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("CVOPS_HOME", "CVOPS_STATE_URL")}


def test_sample_store_shares_samples_through_the_bucket(tmp_path: Path, state_url: str) -> None:
    from cvops.errors import CvopsError
    from cvops.video import SampleStore
    from cvops.video.sample_store import SampleEncoding

    encoding = SampleEncoding.of("jpg")
    here = SampleStore(tmp_path / "node-a" / "samples", f"{state_url}/samples")
    there = SampleStore(tmp_path / "node-b" / "samples", f"{state_url}/samples")
    key = SampleStore.key("video-fingerprint", 7, encoding)
    written = here.put(key, encoding, b"jpeg bytes")

    assert there.get(key, encoding) == there.path(key, encoding)  # downloaded into node b's cache
    assert there.localize(written).read_bytes() == b"jpeg bytes"  # a path node a recorded, found on node b
    with pytest.raises(CvopsError, match="in neither"):
        there.localize(tmp_path / "node-a" / "samples" / "ff" / ("f" * 64 + ".jpg"))
    assert SampleStore(tmp_path / "local").get(key, encoding) is None  # no remote: the folder alone
