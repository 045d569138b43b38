"""Where a result came from: the code commit that produced it."""

from __future__ import annotations

import subprocess
from pathlib import Path

UNKNOWN = "unknown"

_CODE_DIR = Path(__file__).resolve().parents[1]
"""The folder holding the ``cvops`` package: the repository root of an editable install."""


def current_git_commit(repo_dir: str | Path | None = None) -> str:
    """``git rev-parse HEAD`` of ``repo_dir`` (default: the checkout cvops runs from, whatever the working
    directory), or ``"unknown"`` outside a repository or without git: a card must still be written then."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=repo_dir or _CODE_DIR,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return UNKNOWN
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and commit else UNKNOWN
