"""S3 sources through boto3 (moto's server stands in for S3), including the Dagster resource's dagster-aws client."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import boto3
import pytest
from moto.server import ThreadedMotoServer

from cvops.video import Method, SourceReadError, extract_frames
from cvops_resources.s3 import S3Resource
from cvops_resources.video import VideoResource
from tests.video.conftest import image_code

BUCKET = "match-videos"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


@pytest.fixture(scope="module")
def s3_endpoint(mp4_videos, hls_videos) -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, **CREDENTIALS)
    client.create_bucket(Bucket=BUCKET)
    client.upload_file(str(mp4_videos["vfr"].path), BUCKET, "videos/vfr.mp4")
    for file in hls_videos["ts"].path.parent.iterdir():
        client.upload_file(str(file), BUCKET, f"hls/{file.name}")
    yield endpoint
    server.stop()


@pytest.fixture
def s3_settings(settings, s3_endpoint):
    return replace(settings, s3_client_factory=lambda: boto3.client("s3", endpoint_url=s3_endpoint, **CREDENTIALS))


def test_mp4_from_s3_is_exact(s3_settings, sample_store) -> None:
    frames = [1, 77, 200]
    result = extract_frames(f"s3://{BUCKET}/videos/vfr.mp4", frames, sample_store, fmt="png", settings=s3_settings)
    assert [image_code(s.path) for s in result.samples] == frames
    assert result.stats.source_requests > 3  # ranged reads, not one download


def test_hls_from_s3_is_exact(s3_settings, hls_videos, sample_store) -> None:
    frames = [30, 31, 240]
    result = extract_frames(f"s3://{BUCKET}/hls/index.m3u8", frames, sample_store, fmt="png", settings=s3_settings)
    assert [image_code(s.path) for s in result.samples] == [hls_videos["ts"].truth[f - 1] for f in frames]


def test_a_missing_object_fails_at_once(s3_settings, sample_store) -> None:
    with pytest.raises(SourceReadError, match=r"404|Not Found|NoSuchKey"):
        extract_frames(f"s3://{BUCKET}/videos/nope.mp4", [1], sample_store, settings=s3_settings)


def test_ffmpeg_reads_s3_through_the_feed(s3_settings, sample_store) -> None:
    url = f"s3://{BUCKET}/videos/vfr.mp4"
    result = extract_frames(url, [1], sample_store, fmt="png", method=Method.FFMPEG_SEEK, settings=s3_settings)
    assert image_code(result.samples[0].path) == 1


def test_the_resource_reads_s3_through_the_shared_s3_resource(s3_endpoint, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    s3 = S3Resource(endpoint_url=s3_endpoint, region_name="us-east-1")
    resource = VideoResource(s3=s3, samples_dir=str(tmp_path))
    result = resource.get_extractor().extract(f"s3://{BUCKET}/videos/vfr.mp4", [100])
    assert image_code(result.samples[0].path) == 100
    assert result.samples[0].path.suffix == ".jpg" and result.samples[0].path.is_relative_to(tmp_path)
