"""Errors that say exactly which input is wrong.

Users fix their data from these messages, so every error names the file and, where known, the row (1-based,
counting the header as row 1 as a spreadsheet does) and the field.
"""

from __future__ import annotations

from pathlib import Path


class CvopsError(Exception):
    """Base class of every error cvops raises on purpose."""


class InputError(CvopsError, ValueError):
    """A bad input file or value, located as precisely as possible."""

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        row: int | None = None,
        field: str | None = None,
        match_id: str | None = None,
    ) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.row = row
        self.field = field
        self.match_id = match_id
        super().__init__(self.describe())

    def describe(self) -> str:
        where = []
        if self.file is not None:
            where.append(self.file)
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field is not None:
            where.append(f"field {self.field!r}")
        if self.match_id is not None and (self.file is None or self.match_id not in self.file):
            where.append(f"match {self.match_id!r}")
        return f"{', '.join(where)}: {self.message}" if where else self.message
