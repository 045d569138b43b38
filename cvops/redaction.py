"""Masking secrets in URLs before anything is stored or shown.

A video URL in ``matches.csv`` may carry credentials: user info (``https://user:pass@host/...``) or the signature of
a presigned URL (``?X-Amz-Signature=...``, ``?sig=...``, ``?token=...``). The real URL lives only in the user's
label store; everything cvops writes or prints (catalog tables, asset metadata, logs, progress lines, error
messages, reports) goes through :func:`redact_url`, or :func:`redact_text` for free text that may contain URLs.

The masking errs on the side of hiding: any query (or fragment) parameter whose name looks like a credential is
blanked, and when the authority of a URL cannot be parsed, everything up to its last ``@`` is blanked too (a
password with an unescaped ``/`` or ``?`` would otherwise be shown as a host or a path).
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote

MASK = "***"

# Parameter names compared in lower case. Exact names, then prefixes, then fragments of names.
_SECRET_NAMES = frozenset(
    {
        "sig",
        "signature",
        "key",
        "apikey",
        "api_key",
        "api-key",
        "access_key",
        "accesskey",
        "awsaccesskeyid",
        "key-pair-id",
        "policy",
        "token",
        "auth",
        "authorization",
        "password",
        "passwd",
        "pwd",
        "pass",
        "secret",
        "code",
        "session",
        "credential",
        "credentials",
    }
)
_SECRET_PREFIXES = ("x-amz-", "x-goog-", "x-ms-")
_SECRET_FRAGMENTS = ("token", "secret", "password", "signature", "credential", "apikey", "api_key", "auth")
_SCHEME = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*:)?//")
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]+")
_PARAMETER_IN_TEXT = re.compile(r"([?&#])([^=\s&#?'\"]+)=([^&\s#'\"]*)")
_PLAIN_AUTHORITY = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~-]*)(?::\d*)?$")


def is_secret_parameter(name: str) -> bool:
    """Whether a query parameter called ``name`` carries a credential or a signature."""
    lowered = unquote(name).strip().lower()
    return (
        lowered in _SECRET_NAMES
        or lowered.startswith(_SECRET_PREFIXES)
        or any(fragment in lowered for fragment in _SECRET_FRAGMENTS)
    )


def redact_url(url: str) -> str:
    """``url`` with its user info and credential-like query and fragment parameters replaced by ``***``.

    Anything that is not a URL (a local path) is returned unchanged. Never raises.
    """
    match = _SCHEME.match(url)
    if match is None:
        return url
    start = match.end()
    end = _first_of(url, "/?#", start)
    authority = url[start:end]
    if "@" in authority:
        authority = MASK + "@" + authority.rsplit("@", 1)[1]
    elif not _PLAIN_AUTHORITY.match(authority):
        # Not host[:port]: a password with an unescaped "/", "?" or "#" may have cut the URL in the wrong place.
        # Blank everything up to the last "@" that is followed by a plain host, or the whole authority.
        at = _last_at_before_host(url, start)
        if at is not None:
            end = _first_of(url, "/?#", at + 1)
            authority = MASK + "@" + url[at + 1 : end]
        elif authority:
            authority = MASK
    rest = url[end:]
    path, query, fragment = _split_rest(rest)
    return url[:start] + authority + path + _mask_parameters(query, "?") + _mask_parameters(fragment, "#")


def redact_text(text: str) -> str:
    """``text`` with every URL in it passed through :func:`redact_url`, and credential-like parameters of a bare
    request target (``GET /v.mp4?X-Amz-Signature=...``, as HTTP libraries log it) masked too."""

    def replace(match: re.Match[str]) -> str:
        found = match.group(0)
        url = found.rstrip(".,:;!?)]}")
        return redact_url(url) + found[len(url) :]

    def mask(match: re.Match[str]) -> str:
        lead, name, value = match.groups()
        if not is_secret_parameter(name):
            return match.group(0)
        trailing = value[len(value.rstrip(".,:;!?)]}")) :]  # punctuation of the sentence, not of the value
        return f"{lead}{name}={MASK}{trailing}"

    return _PARAMETER_IN_TEXT.sub(mask, _URL_IN_TEXT.sub(replace, text))


class RedactingFilter(logging.Filter):
    """A logging filter that passes every message through :func:`redact_text` (for third-party loggers, such as
    urllib3's, that log request targets at DEBUG level)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def _last_at_before_host(url: str, start: int) -> int | None:
    at = len(url)
    while (at := url.rfind("@", start, at)) >= 0:
        host = url[at + 1 : _first_of(url, "/?#", at + 1)]
        if host and _PLAIN_AUTHORITY.match(host):
            return at
    return None


def _first_of(text: str, characters: str, start: int) -> int:
    positions = [i for i in (text.find(c, start) for c in characters) if i >= 0]
    return min(positions, default=len(text))


def _split_rest(rest: str) -> tuple[str, str, str]:
    fragment_at = rest.find("#")
    fragment = rest[fragment_at:] if fragment_at >= 0 else ""
    rest = rest[:fragment_at] if fragment_at >= 0 else rest
    query_at = rest.find("?")
    query = rest[query_at:] if query_at >= 0 else ""
    return (rest[:query_at] if query_at >= 0 else rest), query, fragment


def _mask_parameters(part: str, lead: str) -> str:
    """Blank the values of secret parameters in ``?a=1&b=2`` (or a fragment), keeping everything else as it is."""
    if not part:
        return part
    pairs = []
    for pair in part[1:].split("&"):
        name, equals, _ = pair.partition("=")
        pairs.append(f"{name}={MASK}" if equals and is_secret_parameter(name) else pair)
    return lead + "&".join(pairs)
