"""S3 access shared by every resource that reads or writes object storage (videos, model registry, DVC remote)."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from cvops.s3 import S3Settings


class S3Resource(dg.ConfigurableResource):
    """Where the S3 API is: one object shared by the video, model registry and dataset resources. Credentials are
    never configured here: boto3 and DVC take them from the standard AWS chain (environment, profile, role)."""

    endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint (MinIO, moto); unset: AWS, or AWS_ENDPOINT_URL."
    )
    region_name: str | None = Field(default=None, description="Region; unset: AWS_REGION or the profile's.")
    profile_name: str | None = Field(default=None, description="Shared AWS config profile; unset: AWS_PROFILE.")

    def get_settings(self) -> S3Settings:
        return S3Settings(endpoint_url=self.endpoint_url, region_name=self.region_name, profile_name=self.profile_name)
