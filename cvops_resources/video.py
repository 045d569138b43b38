"""Frame extraction settings as a Dagster resource (the work is :func:`cvops.video.extract_frames`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from cvops.benchmark.scoring import FrameReader
from cvops.video import ExtractionResult, ReaderSettings, SampleStore, extract_frames
from cvops.video.extract import progress_reporter


class VideoResource(dg.ConfigurableResource):
    """How match videos are read (see docs/video.md). Every field has a working default."""

    max_workers: int | None = Field(default=None, description="Parallel decode tasks; unset: the CPU count.")
    jpeg_quality: int = Field(default=90, ge=1, le=100, description="JPEG quality of extracted samples.")
    retries: int = Field(default=4, ge=0, description="Retries of a transient network error.")
    backoff_s: float = Field(default=0.5, gt=0, description="First retry wait; doubles each retry.")
    timeout_s: float = Field(default=30.0, gt=0, description="Connect and read timeout per request.")
    block_size: int = Field(default=1 << 20, ge=4096, description="Bytes per ranged read of an mp4.")
    samples_dir: str | None = Field(default=None, description="Sample store; unset: $CVOPS_HOME/samples.")
    s3_endpoint_url: str | None = Field(default=None, description="S3 endpoint (MinIO, ...); unset: AWS.")
    s3_region_name: str | None = None
    s3_profile_name: str | None = None

    def settings(self) -> ReaderSettings:
        return ReaderSettings(
            retries=self.retries,
            backoff_s=self.backoff_s,
            timeout_s=self.timeout_s,
            block_size=self.block_size,
            s3_client_factory=self._s3_client,
        )

    def sample_store(self) -> SampleStore:
        return SampleStore(self.samples_dir) if self.samples_dir else SampleStore.default()

    def extract(
        self,
        video: str,
        frames: Sequence[int],
        *,
        base_dir: str | Path | None = None,
        log: logging.Logger | dg.DagsterLogManager | None = None,
    ) -> ExtractionResult:
        """Extract ``frames`` of ``video`` as JPEG into the sample store, logging progress every few seconds."""
        progress = progress_reporter(log.info, label=video) if log is not None else None
        return extract_frames(
            video,
            frames,
            self.sample_store(),
            fmt="jpg",
            quality=self.jpeg_quality,
            max_workers=self.max_workers,
            progress=progress,
            base_dir=base_dir,
            settings=self.settings(),
        )

    def frame_reader(
        self, video: str, *, base_dir: str | Path | None = None, log: dg.DagsterLogManager | None = None
    ) -> FrameReader:
        """Reads frames of ``video`` as RGB arrays, through the sample store (see ``cvops.benchmark.score_match``)."""
        return lambda frames: self.extract(video, frames, base_dir=base_dir, log=log).images()

    def _s3_client(self) -> Any:
        from dagster_aws.s3 import S3Resource

        resource = S3Resource(
            endpoint_url=self.s3_endpoint_url, region_name=self.s3_region_name, profile_name=self.s3_profile_name
        )
        return resource.get_client()
