"""Markdown reports (export previews, export records): written under ``$CVOPS_HOME/reports`` and, when the state is
shared (``CVOPS_STATE_URL=s3://bucket/prefix``), also under ``<prefix>/reports/``, where every node and person
finds them whichever node wrote them (the local file is then this node's copy)."""

from __future__ import annotations

from pathlib import Path

from cvops.io import write_text_atomic
from cvops.s3 import S3Settings
from cvops.settings import CvopsPaths


def write_report(paths: CvopsPaths, name: str, text: str, s3: S3Settings | None = None) -> Path:
    """Write report ``name`` (a file name) atomically; returns the local file."""
    if Path(name).name != name:
        raise ValueError(f"a report name is a file name, not {name!r}")
    path = paths.reports / name
    write_text_atomic(path, text)
    if paths.state_url:
        bucket, _, prefix = paths.state_url.removeprefix("s3://").rstrip("/").partition("/")
        key = "/".join(part for part in (prefix, "reports", name) if part)
        (s3 or S3Settings()).client().put_object(
            Bucket=bucket, Key=key, Body=text.encode("utf-8"), ContentType="text/markdown; charset=utf-8"
        )
    return path
