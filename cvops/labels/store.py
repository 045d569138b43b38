"""Reading and validating the label store.

The store is the product's export, written by people and by other systems, so nothing in it is trusted: every
value is checked and every problem is reported with the file, the row (1-based, the header is row 1) and the field.
A bad row of ``matches.csv`` costs only that match (it is listed in ``MatchTable.errors``); a bad ``keyframes.csv``
fails that match's ``raw_labels`` with an ``InputError`` and nothing downstream of it runs.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pandas as pd

from cvops.errors import InputError
from cvops.io import write_text_atomic

MATCH_COLUMNS = (
    "match_id",
    "video",
    "fps",
    "width",
    "height",
    "n_frames",
    "pitch",
    "home_team",
    "away_team",
    "weather",
    "kickoff",
    "annotated_at",
    "status",
)
KEYFRAME_COLUMNS = ("frame", "track_id", "role", "x", "y", "w", "h")
ROLES = ("player", "goalkeeper", "referee", "ball", "other")
STATUSES = ("annotated", "in_progress")
MATCH_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
REMOTE_SCHEMES = ("http", "https", "s3")


def validate_match_id(match_id: str, *, file: str | Path | None = None, row: int | None = None) -> str:
    """Return ``match_id`` if it is a valid id (it becomes a folder name and a partition key), else raise."""
    if not isinstance(match_id, str) or not MATCH_ID_PATTERN.fullmatch(match_id):
        raise InputError(
            f"invalid match id {match_id!r}: expected 1-64 letters, digits, '_' or '-', "
            "starting with a letter or digit",
            file=file,
            row=row,
            field="match_id",
        )
    return match_id


@dataclass(frozen=True)
class MatchRecord:
    """One valid row of ``matches.csv``."""

    match_id: str
    video: str
    fps: Fraction
    width: int
    height: int
    n_frames: int
    pitch: str
    home_team: str
    away_team: str
    weather: str
    kickoff: pd.Timestamp | None
    annotated_at: pd.Timestamp
    status: str

    @property
    def is_annotated(self) -> bool:
        return self.status == "annotated"


@dataclass(frozen=True)
class MatchTable:
    """The valid matches of a store, plus one error per rejected row (those matches are skipped, not fatal)."""

    matches: dict[str, MatchRecord]
    errors: list[InputError] = field(default_factory=list)

    def annotated(self) -> list[MatchRecord]:
        return [m for m in self.matches.values() if m.is_annotated]

    def newly_annotated(self, known: Iterable[str]) -> list[MatchRecord]:
        """Annotated matches not in ``known``, oldest annotation first (the order the platform takes them in)."""
        taken = set(known)
        fresh = (m for m in self.annotated() if m.match_id not in taken)
        return sorted(fresh, key=lambda m: (m.annotated_at, m.match_id))

    def to_frame(self) -> pd.DataFrame:
        """The valid rows as they appear in the ``matches`` catalog view (fps as its text form)."""
        rows = [
            {**m.__dict__, "fps": str(m.fps), "kickoff": m.kickoff, "annotated_at": m.annotated_at}
            for m in self.matches.values()
        ]
        frame = pd.DataFrame(rows, columns=list(MATCH_COLUMNS))
        return frame.astype({"width": "int64", "height": "int64", "n_frames": "int64"})


class LabelStore:
    """A label store folder: ``matches.csv`` plus one folder of keyframes (and optional detections) per match."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def matches_file(self) -> Path:
        return self.root / "matches.csv"

    def keyframes_file(self, match_id: str) -> Path:
        return self.root / validate_match_id(match_id) / "keyframes.csv"

    def detections_file(self, match_id: str) -> Path:
        return self.root / validate_match_id(match_id) / "det.txt"

    def annotated_match(self, match_id: str) -> MatchRecord:
        """The valid, annotated record of ``match_id``, or an error saying why it cannot be used."""
        table = self.read_matches()
        record = table.matches.get(match_id)
        if record is None:
            reasons = [e.describe() for e in table.errors if e.match_id == match_id]
            detail = "; ".join(reasons) if reasons else "it is not in the store"
            raise InputError(f"match {match_id!r} cannot be read: {detail}", file=self.matches_file)
        if not record.is_annotated:
            raise InputError(
                f"match {match_id!r} has status {record.status!r}, not 'annotated'", file=self.matches_file
            )
        return record

    def read_detections(self, match_id: str) -> pd.DataFrame | None:
        """The product model's detections of the match (``det.txt``, video frames), or None when it has none."""
        from cvops.tracking.mot import read_mot_detections  # the tracking package is heavy; few matches have det.txt

        path = self.detections_file(match_id)
        return read_mot_detections(path) if path.exists() else None

    def read_matches(self) -> MatchTable:
        """Read ``matches.csv``; a missing file or column is fatal, a bad row only rejects that match."""
        path = self.matches_file
        raw = _read_csv_as_text(path, MATCH_COLUMNS)
        matches: dict[str, MatchRecord] = {}
        errors: list[InputError] = []
        rows_by_id: dict[str, list[int]] = {}
        for index, values in enumerate(raw.to_dict("records")):
            row = index + 2
            try:
                record = self._parse_match_row(values, row)
            except InputError as exc:
                errors.append(exc)
                continue
            rows_by_id.setdefault(record.match_id, []).append(row)
            matches.setdefault(record.match_id, record)
        for match_id, rows in rows_by_id.items():
            if len(rows) > 1:
                # Which of the rows is right cannot be known, so none of them is used.
                del matches[match_id]
                for row in rows:
                    others = ", ".join(str(r) for r in rows if r != row)
                    errors.append(
                        InputError(
                            f"duplicate match id {match_id!r} (also on row {others}); the match is skipped",
                            file=path,
                            row=row,
                            field="match_id",
                            match_id=match_id,
                        )
                    )
        return MatchTable(matches=matches, errors=sorted(errors, key=lambda e: e.row or 0))

    def _parse_match_row(self, values: dict[str, str], row: int) -> MatchRecord:
        path = self.matches_file
        match_id = validate_match_id(values["match_id"].strip(), file=path, row=row)

        def fail(field_name: str, message: str) -> InputError:
            return InputError(message, file=path, row=row, field=field_name, match_id=match_id)

        def positive_int(field_name: str) -> int:
            text = values[field_name].strip()
            try:
                number = int(text)
            except ValueError:
                raise fail(field_name, f"expected a positive integer, got {text!r}") from None
            if number <= 0:
                raise fail(field_name, f"expected a positive integer, got {number}")
            return number

        def timestamp(field_name: str, *, required: bool) -> pd.Timestamp | None:
            text = values[field_name].strip()
            if not text:
                if required:
                    raise fail(field_name, "missing timestamp")
                return None
            try:
                parsed = pd.Timestamp(datetime.fromisoformat(text))
            except ValueError:
                raise fail(field_name, f"expected an ISO-8601 timestamp, got {text!r}") from None
            return parsed.tz_localize("UTC") if parsed.tzinfo is None else parsed.tz_convert("UTC")

        fps_text = values["fps"].strip()
        try:
            fps = Fraction(fps_text).limit_denominator(1_000_000)
        except (ValueError, ZeroDivisionError):
            raise fail("fps", f"expected a frame rate such as 25 or 30000/1001, got {fps_text!r}") from None
        if fps <= 0:
            raise fail("fps", f"frame rate must be positive, got {fps_text!r}")
        status = values["status"].strip()
        if status not in STATUSES:
            raise fail("status", f"expected one of {', '.join(STATUSES)}, got {status!r}")
        video = values["video"].strip()
        if not video:
            raise fail("video", "missing video location")
        self._check_video_location(video, fail)
        texts = {name: values[name].strip() for name in ("pitch", "home_team", "away_team", "weather")}
        return MatchRecord(
            match_id=match_id,
            video=video,
            fps=fps,
            width=positive_int("width"),
            height=positive_int("height"),
            n_frames=positive_int("n_frames"),
            kickoff=timestamp("kickoff", required=False),
            annotated_at=timestamp("annotated_at", required=True),
            status=status,
            **texts,
        )

    def _check_video_location(self, video: str, fail) -> None:
        scheme = urlparse(video).scheme.lower()
        if scheme in REMOTE_SCHEMES:
            return
        if scheme and len(scheme) > 1:  # a one-letter "scheme" is a Windows drive, not a URL
            raise fail("video", f"unsupported URL scheme {scheme!r}: use a path, http(s):// or s3://")
        path = Path(video)
        if path.is_absolute():
            return
        resolved = (self.root / path).resolve()
        if not resolved.is_relative_to(self.root.resolve()):
            raise fail("video", f"relative video path {video!r} escapes the label store")

    def video_location(self, match: MatchRecord) -> str:
        """The video as a URL or an absolute local path."""
        if urlparse(match.video).scheme.lower() in REMOTE_SCHEMES:
            return match.video
        path = Path(match.video)
        return str(path if path.is_absolute() else (self.root / path).resolve())

    def upsert_match_rows(self, rows: Iterable[dict[str, str]]) -> None:
        """Add or replace rows of ``matches.csv`` by match id, keeping every other row byte for byte.

        Writers (the synthetic generator, the MOT importer) call this last, after a match's own files are in
        place, so that a reader going by ``matches.csv`` never sees a match whose files are half written.
        """
        new = {row["match_id"]: row for row in rows}
        for match_id in new:
            validate_match_id(match_id, file=self.matches_file)
        kept: list[dict[str, str]] = []
        if self.matches_file.exists():
            with open(self.matches_file, newline="") as handle:
                kept = [row for row in csv.DictReader(handle) if row.get("match_id") not in new]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(MATCH_COLUMNS), extrasaction="raise", lineterminator="\n")
        writer.writeheader()
        writer.writerows([{c: row.get(c, "") for c in MATCH_COLUMNS} for row in [*kept, *new.values()]])
        write_text_atomic(self.matches_file, buffer.getvalue())

    def write_keyframes(self, match_id: str, keyframes: pd.DataFrame) -> None:
        """Write a match's ``keyframes.csv`` (columns ``KEYFRAME_COLUMNS``) atomically."""
        text = keyframes[list(KEYFRAME_COLUMNS)].to_csv(index=False, lineterminator="\n")
        write_text_atomic(self.keyframes_file(match_id), text)

    def read_keyframes(self, match_id: str) -> pd.DataFrame:
        """Read a match's ``keyframes.csv`` with exact types, or raise naming the file, row and field."""
        path = self.keyframes_file(match_id)
        raw = _read_csv_as_text(path, KEYFRAME_COLUMNS, match_id=match_id)
        columns: dict[str, np.ndarray] = {}
        for name, kind in (
            ("frame", "int"),
            ("track_id", "int"),
            ("x", "float"),
            ("y", "float"),
            ("w", "float"),
            ("h", "float"),
        ):
            columns[name] = _parse_numeric_column(raw[name], path, name, kind, match_id)
        for name in ("w", "h"):
            bad = np.flatnonzero(columns[name] <= 0)
            if bad.size:
                value = columns[name][bad[0]]
                raise InputError(
                    f"box size must be positive, got {value:g} ({bad.size} such rows)",
                    file=path,
                    row=int(bad[0]) + 2,
                    field=name,
                    match_id=match_id,
                )
        bad = np.flatnonzero(columns["frame"] < 1)
        if bad.size:
            raise InputError(
                f"frames are 1-based, got {columns['frame'][bad[0]]}",
                file=path,
                row=int(bad[0]) + 2,
                field="frame",
                match_id=match_id,
            )
        roles = raw["role"].str.strip().str.lower()
        unknown = ~roles.isin(ROLES)
        if unknown.any():
            index = int(np.flatnonzero(unknown.to_numpy())[0])
            raise InputError(
                f"unknown role {raw['role'].iloc[index]!r}: expected one of {', '.join(ROLES)}",
                file=path,
                row=index + 2,
                field="role",
                match_id=match_id,
            )
        frame = pd.DataFrame(columns)
        frame.insert(2, "role", roles.astype("string").to_numpy())
        return frame[list(KEYFRAME_COLUMNS)]


def _read_csv_as_text(path: Path, required: tuple[str, ...], *, match_id: str | None = None) -> pd.DataFrame:
    if not path.is_file():
        raise InputError("file not found", file=path, match_id=match_id)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"not a readable CSV file: {exc}", file=path, match_id=match_id) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(
            f"missing column(s) {', '.join(missing)}; expected {','.join(required)}",
            file=path,
            row=1,
            field=missing[0],
            match_id=match_id,
        )
    return frame


def _parse_numeric_column(values: pd.Series, path: Path, name: str, kind: str, match_id: str | None) -> np.ndarray:
    """Parse a text column to int64/float64, naming the first row that is empty, non-numeric or not finite."""
    text = values.str.strip()
    parsed = pd.to_numeric(text, errors="coerce")
    bad = parsed.isna() | ~np.isfinite(parsed.to_numpy(dtype="float64", na_value=np.nan))
    if kind == "int":
        bad |= parsed.notna() & (parsed != parsed.round())
    if bad.any():
        index = int(np.flatnonzero(bad.to_numpy())[0])
        shown = text.iloc[index]
        expected = "an integer" if kind == "int" else "a finite number"
        raise InputError(
            f"expected {expected}, got {shown!r}" if shown else f"missing value (expected {expected})",
            file=path,
            row=index + 2,
            field=name,
            match_id=match_id,
        )
    return parsed.to_numpy(dtype="int64" if kind == "int" else "float64")
