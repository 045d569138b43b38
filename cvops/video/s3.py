"""S3 reads (ranged ``GetObject``) through boto3.

The client comes from ``ReaderSettings.s3_client_factory`` (the Dagster resource passes dagster-aws's
``S3Resource.get_client``), else ``boto3.client("s3")``, which honours the usual AWS variables including
``AWS_ENDPOINT_URL`` for MinIO or moto. boto3 clients are thread-safe, so a video's workers share one.

The endpoint is the platform's configuration, the bucket and key come from the label store. The bucket name is
checked when the address is read (:func:`cvops.url_policy.check_s3_bucket`), and a ``before-send`` hook checks
every request botocore is about to send, with the same parser as the HTTP transport, against the client's
endpoint (or, for AWS, any S3 endpoint of AWS: botocore follows region redirects), so no bucket name or redirect
can make it connect anywhere else. Bodies are read in pieces against the same limits as HTTP.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from cvops.redaction import redact_url
from cvops.url_policy import Origin, UnsafeUrlError, parse_http_url
from cvops.video.errors import SourceReadError
from cvops.video.options import ReaderSettings
from cvops.video.transport import ObjectInfo, SizeLimit, TransientReadError, Transport
from cvops.video.uri import SourceKind, split_s3

_TRANSIENT_CODES = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "InternalError", "ServiceUnavailable"}
)
_AWS_S3_HOST = re.compile(r"^(?:[a-z0-9.-]+\.)?s3(?:[.-][a-z0-9-]+)*\.amazonaws\.com(?:\.cn)?$")
_PIECE = 1 << 20


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

                    client = boto3.client("s3")
                else:
                    client = factory()
                guard_endpoint(client)
                self._client = client
            return self._client

    def _stat(self, uri: str) -> ObjectInfo:
        bucket, key = split_s3(uri)
        response = self._call(uri, lambda: self.client.head_object(Bucket=bucket, Key=key))
        return ObjectInfo(size=int(response["ContentLength"]))

    def _read(self, uri: str, start: int, stop: int | None, limit: SizeLimit | None) -> bytes:
        bucket, key = split_s3(uri)
        extra = {}
        ranged = start > 0 or stop is not None
        if ranged:
            extra["Range"] = f"bytes={start}-" + ("" if stop is None else str(stop - 1))

        def fetch() -> bytes:
            ends = time.monotonic() + self.settings.request_timeout_s
            response = self.client.get_object(Bucket=bucket, Key=key, **extra)
            body = response["Body"]
            try:
                expected = int(response.get("ContentLength", -1))
                if ranged and stop is not None and expected > stop - start:
                    raise SourceReadError(
                        f"{redact_url(uri)}: S3 answered {expected} bytes for a range of {stop - start}"
                    )
                if not ranged and limit is not None and expected > limit.bytes:
                    raise limit.error(uri)
                data = _read_body(body, uri, expected, ends, self.settings.request_timeout_s)
            finally:
                body.close()
            if expected >= 0 and len(data) != expected:
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
            message = f"{redact_url(uri)}: S3 {code or status} {error.get('Message', '')}".rstrip()
            raise SourceReadError(message) from exc


def guard_endpoint(client: Any) -> None:
    """Refuse, just before botocore sends it, any request of ``client`` that does not go to its own endpoint."""
    endpoint = parse_http_url(client.meta.endpoint_url).origin

    def check(request: Any, **_: Any) -> None:
        try:
            origin = parse_http_url(request.url).origin
        except UnsafeUrlError as exc:
            raise SourceReadError(f"refusing an S3 request to {redact_url(request.url)}: {exc}") from None
        if not _on_endpoint(origin, endpoint):
            raise SourceReadError(f"refusing an S3 request to {origin}: the S3 endpoint is {endpoint}")

    client.meta.events.register("before-send.s3", check, unique_id="cvops-s3-endpoint-guard")


def _on_endpoint(origin: Origin, endpoint: Origin) -> bool:
    if (origin.scheme, origin.port) != (endpoint.scheme, endpoint.port):
        return False
    if origin.host == endpoint.host or origin.host.endswith("." + endpoint.host):  # path or virtual-host style
        return True
    return bool(_AWS_S3_HOST.match(endpoint.host) and _AWS_S3_HOST.match(origin.host))


def _read_body(body: Any, uri: str, expected: int, ends: float, timeout_s: float) -> bytes:
    """Read a streaming body in pieces, never past ``expected`` bytes nor past the request's deadline. (S3 is the
    platform's own endpoint, so botocore's per-read timeout and this check between pieces are enough.)"""
    pieces: list[bytes] = []
    size = 0
    while piece := body.read(_PIECE):
        size += len(piece)
        if 0 <= expected < size:
            raise SourceReadError(f"{redact_url(uri)}: S3 sent more than the {expected} bytes it announced")
        if time.monotonic() > ends:
            raise SourceReadError(
                f"{redact_url(uri)}: the request took longer than {timeout_s:g} s (ReaderSettings.request_timeout_s)"
            )
        pieces.append(piece)
    return b"".join(pieces)
