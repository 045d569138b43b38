"""How cvops reaches S3 or an S3-compatible store (MinIO, moto): one settings object for videos, the model registry
and the DVC remote.

Credentials are deliberately not part of it: boto3 and DVC take them from the standard AWS chain (environment,
shared profile, instance or pod role), so they never reach a configuration, a log or the catalog.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class S3Settings:
    """Where the S3 API is and which region and profile to use; ``None`` leaves each to the AWS chain."""

    endpoint_url: str | None = None
    """An S3-compatible endpoint (MinIO, moto's server); None: AWS itself, or ``AWS_ENDPOINT_URL`` when set."""
    region_name: str | None = None
    """None: ``AWS_REGION`` / ``AWS_DEFAULT_REGION`` or the profile's region."""
    profile_name: str | None = None
    """A profile of the shared AWS config; None: ``AWS_PROFILE`` or the default profile."""

    def client(self) -> Any:
        """A boto3 S3 client (thread-safe; create one per process or pool, not per request)."""
        import boto3  # seconds to import: only when S3 is used

        session = boto3.session.Session(profile_name=self.profile_name, region_name=self.region_name)
        return session.client("s3", endpoint_url=self.endpoint_url)
