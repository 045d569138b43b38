"""Frame extraction settings as a Dagster resource (the work is :class:`cvops.video.FrameExtractor`'s)."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from cvops.video import FrameExtractor, ReaderSettings, SampleStore
from cvops_resources.s3 import S3Resource


class VideoResource(dg.ConfigurableResource):
    """How match videos are read (see docs/video.md). Every field has a working default."""

    max_workers: int | None = Field(default=None, description="Parallel decode tasks; unset: the CPU count.")
    jpeg_quality: int = Field(default=90, ge=1, le=100, description="JPEG quality of extracted samples.")
    retries: int = Field(default=4, ge=0, description="Retries of a transient network error.")
    backoff_s: float = Field(default=0.5, gt=0, description="First retry wait; doubles each retry.")
    timeout_s: float = Field(default=30.0, gt=0, description="Connect and read timeout per request.")
    block_size: int = Field(default=1 << 20, ge=4096, description="Bytes per ranged read of an mp4.")
    request_timeout_s: float = Field(
        default=300.0, gt=0, description="Longest one request may take in all; a server that drips is cut off."
    )
    max_redirects: int = Field(default=5, ge=0, description="Same-origin redirects followed per request.")
    max_playlist_bytes: int = Field(default=16 << 20, ge=4096, description="Largest HLS playlist read.")
    max_segment_bytes: int = Field(default=256 << 20, ge=4096, description="Largest HLS segment read whole.")
    samples_dir: str | None = Field(default=None, description="Sample store; unset: $CVOPS_HOME/samples.")
    s3: S3Resource = Field(default_factory=S3Resource, description="S3 access, for videos on S3.")

    def get_extractor(self) -> FrameExtractor:
        settings = ReaderSettings(
            retries=self.retries,
            backoff_s=self.backoff_s,
            timeout_s=self.timeout_s,
            block_size=self.block_size,
            request_timeout_s=self.request_timeout_s,
            max_redirects=self.max_redirects,
            max_playlist_bytes=self.max_playlist_bytes,
            max_segment_bytes=self.max_segment_bytes,
            s3_client_factory=self.s3.get_settings().client,
        )
        store = SampleStore(self.samples_dir) if self.samples_dir else SampleStore.default(self.s3.get_settings())
        return FrameExtractor(store, settings, fmt="jpg", quality=self.jpeg_quality, max_workers=self.max_workers)
