"""The origin policy: where an http(s) or s3 address may make cvops connect, decided before anything is fetched.

Video addresses come from the label store and from playlists and redirects that video hosts control. The classic
way to abuse a fetcher with such input is a *parser differential*: one parser (the one that checks) reads a host
out of ``http://169.254.169.254\\@127.0.0.1/`` that another (the one that connects) does not. So an http(s) URL is
parsed here with urllib3's parser, the one that opens the connection (:mod:`cvops.video.http` connects to
exactly the scheme, host and port returned here, sending only the path and query), and cross-checked with the
standard library's ``urlsplit``, which the rest of the world (and ``urljoin``) uses. A URL is refused when:

* it holds whitespace, a control character or a backslash (parsers strip or reinterpret them differently), or a
  non-ASCII character in its authority (give IDN hosts in their ``xn--`` form);
* the two parsers disagree on its scheme, user info, host or port;
* its host is not a plain DNS name, a canonical dotted IPv4 address or a bracketed IPv6 address (``127.1``,
  ``2130706433``, ``0x7f.0.0.1`` and IPv6 zone ids are refused: resolvers read them in surprising ways);
* its port is not 1-65535, or its scheme is not http or https.

S3 addresses name a bucket whose endpoint comes from the platform's own configuration; the bucket must be a valid
S3 bucket name (so it cannot smuggle a host, a port or user info into the endpoint botocore builds), and
:mod:`cvops.video.s3` checks every request botocore is about to send against that endpoint.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

DEFAULT_PORTS = {"http": 80, "https": 443}
FORBIDDEN_CHARACTERS = re.compile(r"[\x00-\x20\x7f\\]")
"""Whitespace, control characters and backslashes: parsers strip or reinterpret them, so they are refused."""
_DNS_NAME = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)(?:\.(?!-)[a-z0-9_-]{1,63}(?<!-))*\.?$")
_CANONICAL_IPV4 = re.compile(r"^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$")
_S3_BUCKET = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,253}[a-zA-Z0-9]$")


class UnsafeUrlError(ValueError):
    """A URL the policy refuses. The message says why and never quotes the URL (callers show it redacted)."""


@dataclass(frozen=True)
class Origin:
    """Scheme, host and port: what a connection goes to. ``host`` is lower case, IPv6 without brackets."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


@dataclass(frozen=True)
class HttpTarget:
    """An approved http(s) URL: where to connect, what to put on the request line, and the user info (for basic
    authentication, as curl and FFmpeg would use it)."""

    origin: Origin
    request_target: str
    userinfo: str | None


def parse_http_url(url: str) -> HttpTarget:
    """Parse ``url`` as the connection will, or raise :class:`UnsafeUrlError` saying why it is refused."""
    if FORBIDDEN_CHARACTERS.search(url):
        raise UnsafeUrlError("it contains whitespace, a control character or a backslash, which parsers read apart")
    try:
        ours = parse_url(url)
        theirs = urlsplit(url)
        their_port = theirs.port
    except (LocationParseError, ValueError) as exc:
        raise UnsafeUrlError(f"it cannot be parsed ({type(exc).__name__})") from None
    scheme = (ours.scheme or "").lower()
    if scheme not in DEFAULT_PORTS or theirs.scheme.lower() != scheme:
        raise UnsafeUrlError("only http:// and https:// URLs are fetched")
    authority = theirs.netloc
    if not authority.isascii():
        raise UnsafeUrlError("its host is not ASCII (write an internationalised name in its xn-- form)")
    their_userinfo = authority.rpartition("@")[0] if "@" in authority else None
    if (ours.auth or None) != (their_userinfo or None):
        raise UnsafeUrlError("URL parsers disagree on its user info")
    host = canonical_host(ours.host or "")
    if host != canonical_host(theirs.hostname or ""):
        raise UnsafeUrlError("URL parsers disagree on its host")
    port = ours.port if ours.port is not None else DEFAULT_PORTS[scheme]
    if port != (their_port if their_port is not None else DEFAULT_PORTS[scheme]):
        raise UnsafeUrlError("URL parsers disagree on its port")
    if not 0 < port < 65536:
        raise UnsafeUrlError(f"port {port} is not a TCP port")
    return HttpTarget(Origin(scheme, host, port), ours.request_uri or "/", ours.auth or None)


def canonical_host(host: str) -> str:
    """The host as a connection sees it (lower case; IPv6 compressed, no brackets), or :class:`UnsafeUrlError`."""
    host = host.strip("[]").lower() if host.startswith("[") else host.lower()
    if not host:
        raise UnsafeUrlError("it has no host")
    if ":" in host:
        if "%" in host:
            raise UnsafeUrlError("IPv6 zone ids are not allowed in a video URL")
        try:
            return ipaddress.IPv6Address(host).compressed
        except ValueError:
            raise UnsafeUrlError("its IPv6 host is not valid") from None
    last_label = host.rstrip(".").rsplit(".", 1)[-1]
    if last_label.isdigit() or last_label.startswith("0x"):
        # Numeric: inet_aton would accept 127.1, 2130706433, 0x7f.0.0.1 or 0177.0.0.1 and connect to 127.0.0.1.
        if not _CANONICAL_IPV4.match(host):
            raise UnsafeUrlError("its numeric host is not a canonical dotted IPv4 address")
        return host
    if not _DNS_NAME.match(host):
        raise UnsafeUrlError("its host is not a valid DNS name or IP address")
    return host


def check_s3_bucket(bucket: str) -> str:
    """``bucket`` if it is a valid S3 bucket name (so it cannot steer the endpoint), else :class:`UnsafeUrlError`."""
    if not _S3_BUCKET.match(bucket) or ".." in bucket or _CANONICAL_IPV4.match(bucket):
        raise UnsafeUrlError(
            "the bucket is not a valid S3 bucket name (3-255 letters, digits, '.', '-', '_'; no user info, "
            "port or IP address)"
        )
    return bucket
