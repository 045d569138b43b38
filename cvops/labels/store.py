"""Reading and validating the label store.

The store is the product's export, written by people and by other systems, so nothing in it is trusted: every
value is checked and every problem is reported with the file, the row (1-based, the header is row 1, blank lines
count) and the field. A bad row of ``matches.csv`` (a bad value, a byte that is not UTF-8) costs only that match
(it is listed in ``MatchTable.errors``); a bad ``keyframes.csv`` fails that match's ``raw_labels`` with an
``InputError`` and nothing downstream of it runs. Numbers are bounded before anything is allocated from them
(``MAX_FRAMES``, ``MAX_DIMENSION``; keyframes within the match's ``n_frames``).

The layout has a schema version (``label-store.json``; a store without that file is version 1, the layout before
keyframes could say that an object leaves the picture). Version 2 adds the optional ``outside`` and ``occluded``
columns of ``keyframes.csv``; a version-1 store is read as it always was, and a store written for a later version
is refused rather than half understood.

The ``video`` field may carry credentials (user info, a presigned URL's signature). It is kept as written only
here, in the user's store: :func:`matches_frame`, the catalog's view of the rows, masks them
(:func:`cvops.redaction.redact_url`), and whatever fetches frames reads the real one from the store.
"""

from __future__ import annotations

import csv
import io
import json
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
from cvops.redaction import redact_url
from cvops.url_policy import UnsafeUrlError, check_s3_bucket, parse_http_url

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
KEYFRAME_FLAGS = ("outside", "occluded")
"""Optional columns of ``keyframes.csv`` (schema version 2): ``outside`` ends a track's span (the object left the
picture from that frame on), ``occluded`` says a person saw the object partly hidden. Both ``0``/``1``."""
ROLES = ("player", "goalkeeper", "referee", "ball", "other")
STATUSES = ("annotated", "in_progress", "pseudo_labelled")
"""``annotated``: a person annotated the match, it enters the platform's datasets. ``in_progress``: not annotated
yet. ``pseudo_labelled``: its keyframes are a model's tracks (``cvops export-cvat --from predictions``), sent to
annotators as pre-annotations; it never enters a dataset until a person's annotation replaces them."""
SCHEMA_FILE = "label-store.json"
SCHEMA_VERSION = 2
"""The store layout this code writes, and the newest it reads (docs/label-store.md, "Schema versions")."""
MATCH_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
REMOTE_SCHEMES = ("http", "https", "s3")
MAX_FRAMES = 10_000_000
"""Most frames a match may have: over 46 hours at 60 fps. Frame numbers are bounded by it before interpolation."""
MAX_DIMENSION = 65_535
"""Largest video width or height accepted (the limit of H.264 and HEVC levels is far below)."""
MAX_TRACK_ID = 2**53
"""Largest track id: integers beyond it are not exact once a CSV reader has seen them as floats."""
_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8, kept as surrogate escapes


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

    @property
    def awaits_annotation(self) -> bool:
        """Not annotated by a person yet (in progress, or only pseudo-labelled)."""
        return not self.is_annotated


@dataclass(frozen=True)
class MatchTable:
    """The valid matches of a store, plus one error per rejected row (those matches are skipped, not fatal)."""

    matches: dict[str, MatchRecord]
    errors: list[InputError] = field(default_factory=list)

    def annotated(self) -> list[MatchRecord]:
        return [m for m in self.matches.values() if m.is_annotated]

    def awaiting_annotation(self) -> list[MatchRecord]:
        """Valid matches a person has not annotated yet, in id order."""
        return sorted((m for m in self.matches.values() if m.awaits_annotation), key=lambda m: m.match_id)

    def newly_annotated(self, known: Iterable[str]) -> list[MatchRecord]:
        """Annotated matches not in ``known``, oldest annotation first (the order the platform takes them in)."""
        taken = set(known)
        fresh = (m for m in self.annotated() if m.match_id not in taken)
        return sorted(fresh, key=lambda m: (m.annotated_at, m.match_id))

    def to_frame(self) -> pd.DataFrame:
        """The valid rows as they appear in the ``matches`` catalog table (see :func:`matches_frame`)."""
        return matches_frame(self.matches.values())


def matches_frame(records: Iterable[MatchRecord]) -> pd.DataFrame:
    """Rows of the ``matches`` catalog table: fps as its text form, the video address with its credentials
    masked (the real one stays in the label store)."""
    rows = [{**m.__dict__, "fps": str(m.fps), "video": redact_url(m.video)} for m in records]
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

    @property
    def schema_file(self) -> Path:
        return self.root / SCHEMA_FILE

    def schema_version(self) -> int:
        """The layout version the store declares (1 when it has no ``label-store.json``); a version newer than
        this code reads, or an unreadable declaration, is an error."""
        path = self.schema_file
        if not path.exists():
            return 1
        try:
            declared = json.loads(path.read_text(encoding="utf-8"))
            version = declared["schema_version"]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise InputError(
                'expected a JSON object such as {"schema_version": 2}', file=path, field="schema_version"
            ) from None
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise InputError(f"expected a positive integer, got {version!r}", file=path, field="schema_version")
        if version > SCHEMA_VERSION:
            raise InputError(
                f"the store is written for label store schema version {version}; this cvops reads versions 1 to "
                f"{SCHEMA_VERSION} (upgrade cvops)",
                file=path,
                field="schema_version",
            )
        return version

    def declare_schema_version(self) -> None:
        """Record that the store follows schema version ``SCHEMA_VERSION`` (each version only adds to the
        previous one, so declaring the newest is right for any store this code writes to)."""
        if self.schema_version() < SCHEMA_VERSION:
            write_text_atomic(self.schema_file, json.dumps({"schema_version": SCHEMA_VERSION}) + "\n")

    def match(self, match_id: str) -> MatchRecord:
        """The valid record of ``match_id`` whatever its status, or an error saying why it cannot be used."""
        table = self.read_matches()
        record = table.matches.get(match_id)
        if record is None:
            reasons = [e.describe() for e in table.errors if e.match_id == match_id]
            detail = "; ".join(reasons) if reasons else "it is not in the store"
            raise InputError(f"match {match_id!r} cannot be read: {detail}", file=self.matches_file)
        return record

    def annotated_match(self, match_id: str) -> MatchRecord:
        """The valid, annotated record of ``match_id``, or an error saying why it cannot be used."""
        record = self.match(match_id)
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
        """Read ``matches.csv``; a missing file or column, or a store of a newer schema version, is fatal, a bad
        row only rejects that match."""
        path = self.matches_file
        self.schema_version()
        raw = _read_csv_as_text(path, MATCH_COLUMNS)
        matches: dict[str, MatchRecord] = {}
        errors: list[InputError] = []
        rows_by_id: dict[str, list[int]] = {}
        for row, values in zip(raw.index, raw.to_dict("records"), strict=True):
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
        for name in MATCH_COLUMNS:
            if _NOT_UTF8.search(values[name]):
                raise InputError("not valid UTF-8 text", file=path, row=row, field=name)
        match_id = validate_match_id(values["match_id"].strip(), file=path, row=row)

        def fail(field_name: str, message: str) -> InputError:
            return InputError(message, file=path, row=row, field=field_name, match_id=match_id)

        def positive_int(field_name: str, maximum: int) -> int:
            text = values[field_name].strip()
            if not text.isascii() or not text.isdigit() or len(text) > len(str(maximum)):
                raise fail(field_name, f"expected a positive integer up to {maximum}, got {text[:40]!r}")
            number = int(text)
            if not 0 < number <= maximum:
                raise fail(field_name, f"expected a positive integer up to {maximum}, got {number}")
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
            width=positive_int("width", MAX_DIMENSION),
            height=positive_int("height", MAX_DIMENSION),
            n_frames=positive_int("n_frames", MAX_FRAMES),
            kickoff=timestamp("kickoff", required=False),
            annotated_at=timestamp("annotated_at", required=True),
            status=status,
            **texts,
        )

    def _check_video_location(self, video: str, fail) -> None:
        try:
            scheme = urlparse(video).scheme.lower()
        except ValueError as exc:  # "Invalid IPv6 URL" and friends
            raise fail("video", f"refusing {redact_url(video)!r}: it cannot be parsed ({exc})") from None
        if scheme in REMOTE_SCHEMES:
            try:
                if scheme == "s3":
                    check_s3_bucket(urlparse(video).netloc)
                else:
                    parse_http_url(video)
            except UnsafeUrlError as exc:
                raise fail("video", f"refusing {redact_url(video)!r}: {exc}") from None
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
        self.declare_schema_version()
        write_text_atomic(self.matches_file, buffer.getvalue())

    def write_keyframes(self, match_id: str, keyframes: pd.DataFrame) -> None:
        """Write a match's ``keyframes.csv`` atomically: ``KEYFRAME_COLUMNS``, plus each of ``KEYFRAME_FLAGS``
        that is set on some row (as ``0``/``1``). An outside row without a box leaves its box cells empty."""
        flags = [name for name in KEYFRAME_FLAGS if name in keyframes and keyframes[name].astype(bool).any()]
        table = keyframes[[*KEYFRAME_COLUMNS, *flags]].copy()
        for name in flags:
            table[name] = table[name].astype(bool).astype("int64")
        if flags:
            self.declare_schema_version()
        write_text_atomic(self.keyframes_file(match_id), table.to_csv(index=False, lineterminator="\n"))

    def read_keyframes(self, match_id: str, *, n_frames: int | None = None) -> pd.DataFrame:
        """Read a match's ``keyframes.csv`` with exact types, or raise naming the file, row and field.

        Returns ``KEYFRAME_COLUMNS`` plus the boolean ``KEYFRAME_FLAGS`` (False where the file has no such
        column). Frames must lie in ``1 .. n_frames`` (the match's length from ``matches.csv``; ``MAX_FRAMES``
        when not given), and one track has at most one keyframe per frame. An outside row may leave its whole
        box empty (NaN here); any box given is checked like every other.
        """
        path = self.keyframes_file(match_id)
        raw = _read_csv_as_text(path, KEYFRAME_COLUMNS, match_id=match_id)
        rows = raw.index.to_numpy()

        def fail(index: int, name: str, message: str) -> InputError:
            return InputError(message, file=path, row=int(rows[index]), field=name, match_id=match_id)

        present_flags = [name for name in KEYFRAME_FLAGS if name in raw.columns]
        for name in (*KEYFRAME_COLUMNS, *present_flags):
            bad = np.flatnonzero(raw[name].str.contains(_NOT_UTF8).to_numpy())
            if bad.size:
                raise fail(bad[0], name, "not valid UTF-8 text")
        flags = {
            name: _parse_flag_column(raw[name], fail) if name in raw.columns else np.zeros(len(raw), dtype=bool)
            for name in KEYFRAME_FLAGS
        }
        box_empty = np.column_stack([(raw[name].str.strip() == "").to_numpy() for name in _BOX])
        boxless = flags["outside"] & box_empty.all(axis=1)
        partial = np.flatnonzero(flags["outside"] & box_empty.any(axis=1) & ~boxless)
        if partial.size:
            name = _BOX[int(np.argmax(box_empty[partial[0]]))]
            raise fail(partial[0], name, "an outside row gives all four of x, y, w, h or none of them")

        columns = {
            name: _parse_numeric_column(raw[name], path, name, "int", match_id) for name in ("frame", "track_id")
        }
        for name in _BOX:  # boxless outside rows stay NaN
            values = np.full(len(raw), np.nan)
            values[~boxless] = _parse_numeric_column(raw[name][~boxless], path, name, "float", match_id)
            columns[name] = values
        frames = columns["frame"]
        bad = np.flatnonzero(frames < 1)
        if bad.size:
            raise fail(bad[0], "frame", f"frames are 1-based, got {frames[bad[0]]:.0f}")
        last_frame = min(n_frames, MAX_FRAMES) if n_frames is not None else MAX_FRAMES
        bad = np.flatnonzero(frames > last_frame)
        if bad.size:
            limit = f"the match has {n_frames} frames" if n_frames is not None else f"at most {MAX_FRAMES} frames"
            raise fail(bad[0], "frame", f"frame {raw['frame'].iloc[bad[0]].strip()[:40]} is past the end ({limit})")
        bad = np.flatnonzero(np.abs(columns["track_id"]) > MAX_TRACK_ID)
        if bad.size:
            shown = raw["track_id"].iloc[bad[0]].strip()[:40]
            raise fail(bad[0], "track_id", f"track id {shown} is larger than {MAX_TRACK_ID}")
        columns["frame"] = frames.astype("int64")
        columns["track_id"] = columns["track_id"].astype("int64")
        for name in ("w", "h"):
            bad = np.flatnonzero(~boxless & (columns[name] <= 0))
            if bad.size:
                value = columns[name][bad[0]]
                raise fail(bad[0], name, f"box size must be positive, got {value:g} ({bad.size} such rows)")
        roles = raw["role"].str.strip().str.lower()
        unknown = np.flatnonzero(~roles.isin(ROLES).to_numpy())
        if unknown.size:
            value = raw["role"].iloc[unknown[0]]
            raise fail(unknown[0], "role", f"unknown role {value!r}: expected one of {', '.join(ROLES)}")
        frame = pd.DataFrame(columns)
        duplicated = np.flatnonzero(frame.duplicated(["track_id", "frame"], keep=False).to_numpy())
        if duplicated.size:
            first = duplicated[0]
            same = frame.index[
                (frame["track_id"] == frame["track_id"][first]) & (frame["frame"] == frame["frame"][first])
            ]
            raise fail(
                first,
                "frame",
                f"track {frame['track_id'][first]} has {len(same)} keyframes on frame {frame['frame'][first]} "
                f"(rows {', '.join(str(rows[i]) for i in same)})",
            )
        frame.insert(2, "role", roles.astype("string").to_numpy())
        for name in KEYFRAME_FLAGS:
            frame[name] = flags[name]
        return frame[[*KEYFRAME_COLUMNS, *KEYFRAME_FLAGS]]


_BOX = ("x", "y", "w", "h")
_FLAG_VALUES = {"": False, "0": False, "1": True, "false": False, "true": True}


def _parse_flag_column(values: pd.Series, fail) -> np.ndarray:
    """A ``0``/``1`` column (``true``/``false`` and empty accepted) as booleans, naming the first bad row."""
    text = values.str.strip().str.lower()
    known = text.isin(list(_FLAG_VALUES)).to_numpy()
    if not known.all():
        index = int(np.flatnonzero(~known)[0])
        raise fail(index, values.name, f"expected 0 or 1, got {values.iloc[index].strip()[:40]!r}")
    return text.map(_FLAG_VALUES).to_numpy(dtype=bool)


def _read_csv_as_text(path: Path, required: tuple[str, ...], *, match_id: str | None = None) -> pd.DataFrame:
    """The CSV as text columns, indexed by row number (the header is row 1; blank lines count but are dropped).

    Bytes that are not UTF-8 are kept as surrogate escapes, so that the row holding them, not the whole file, is
    refused by the caller.
    """
    if not path.is_file():
        raise InputError("file not found", file=path, match_id=match_id)
    try:
        frame = pd.read_csv(
            path,
            dtype=object,  # Python strings: pyarrow's cannot hold the surrogate escapes of non-UTF-8 bytes
            keep_default_na=False,
            skipinitialspace=True,
            skip_blank_lines=False,
            encoding="utf-8",
            encoding_errors="surrogateescape",
        )
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"not a readable CSV file: {exc}", file=path, match_id=match_id) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if any(_NOT_UTF8.search(c) for c in frame.columns):
        raise InputError("the header is not valid UTF-8 text", file=path, row=1, match_id=match_id)
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(
            f"missing column(s) {', '.join(missing)}; expected {','.join(required)}",
            file=path,
            row=1,
            field=missing[0],
            match_id=match_id,
        )
    frame.index = pd.RangeIndex(2, 2 + len(frame))
    blank = (frame == "").all(axis=1)
    return frame[~blank]


def _parse_numeric_column(values: pd.Series, path: Path, name: str, kind: str, match_id: str | None) -> np.ndarray:
    """Parse a text column to float64, naming the first row that is empty, non-numeric or not finite (or, for
    ``int``, not whole). The caller checks its own bounds before casting to int64, so that ``1e30`` is refused as
    too large rather than wrapped round."""
    text = values.str.strip()
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    bad = ~np.isfinite(numbers)
    if kind == "int":
        with np.errstate(invalid="ignore"):
            bad |= numbers != np.round(numbers)
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        shown = text.iloc[index]
        expected = "an integer" if kind == "int" else "a finite number"
        raise InputError(
            f"expected {expected}, got {shown[:40]!r}" if shown else f"missing value (expected {expected})",
            file=path,
            row=int(values.index[index]),
            field=name,
            match_id=match_id,
        )
    return numbers
