"""S3 reads (ranged ``GetObject``) through boto3, and presigned URLs for the ffmpeg strategies.

The client comes from ``ReaderSettings.s3_client_factory`` (the Dagster resource passes dagster-aws's
``S3Resource.get_client``), else ``boto3.client("s3")``, which honours the usual AWS variables including
``AWS_ENDPOINT_URL`` for MinIO or moto. boto3 clients are thread-safe, so a video's workers share one.
"""

from __future__ import annotations

import threading
from typing import Any

from cvops.video.errors import SourceReadError
from cvops.video.options import ReaderSettings
from cvops.video.transport import ObjectInfo, TransientReadError, Transport
from cvops.video.uri import SourceKind, split_s3

_TRANSIENT_CODES = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "InternalError", "ServiceUnavailable"}
)


class S3Transport(Transport):
    kind = SourceKind.S3

    def __init__(self, settings: ReaderSettings) -> None:
        super().__init__(settings)
        self._client: Any = None
        self._client_lock = threading.Lock()

    @property
    def client(self) -> Any:
        with self._client_lock:
            if self._client is None:
                factory = self.settings.s3_client_factory
                if factory is None:
                    import boto3

                    self._client = boto3.client("s3")
                else:
                    self._client = factory()
            return self._client

    def presign(self, uri: str, expires_s: int = 3600) -> str:
        """An https URL that reads ``uri`` without credentials for ``expires_s`` seconds (for ffmpeg)."""
        bucket, key = split_s3(uri)
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_s
        )

    def _stat(self, uri: str) -> ObjectInfo:
        bucket, key = split_s3(uri)
        response = self._call(uri, lambda: self.client.head_object(Bucket=bucket, Key=key))
        return ObjectInfo(size=int(response["ContentLength"]))

    def _read(self, uri: str, start: int, stop: int | None) -> bytes:
        bucket, key = split_s3(uri)
        extra = {}
        if start > 0 or stop is not None:
            extra["Range"] = f"bytes={start}-" + ("" if stop is None else str(stop - 1))

        def fetch() -> bytes:
            response = self.client.get_object(Bucket=bucket, Key=key, **extra)
            body = response["Body"]
            try:
                data = body.read()
            finally:
                body.close()
            expected = int(response.get("ContentLength", len(data)))
            if len(data) != expected:
                raise TransientReadError(f"short read: {len(data)} of {expected} bytes")
            return data

        return self._counted(self._call(uri, fetch))

    @staticmethod
    def _call(uri: str, action: Any) -> Any:
        import botocore.exceptions as bce
        from urllib3.exceptions import HTTPError as Urllib3Error

        transient = (
            bce.EndpointConnectionError,
            bce.ConnectionClosedError,
            bce.ReadTimeoutError,
            bce.ConnectTimeoutError,
            bce.ResponseStreamingError,
            bce.IncompleteReadError,
            Urllib3Error,
            ConnectionError,
        )
        try:
            return action()
        except transient as exc:
            raise TransientReadError(f"{type(exc).__name__}: {exc}") from exc
        except bce.ClientError as exc:
            error = exc.response.get("Error", {})
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            code = str(error.get("Code", ""))
            if status >= 500 or code in _TRANSIENT_CODES:
                raise TransientReadError(f"S3 {code or status}") from exc
            raise SourceReadError(f"{uri}: S3 {code or status} {error.get('Message', '')}".rstrip()) from exc
