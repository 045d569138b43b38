"""MOT Challenge text files as DataFrames.

Three layouts, all comma-separated without a header, frames 1-based, boxes ``x, y, w, h`` in pixels from the
top-left corner:

- ground truth: ``frame,id,x,y,w,h`` (6 columns) or ``frame,id,x,y,w,h,conf,class,visibility`` (9), optionally
  followed by one more column (10, ignored). ``conf`` is MOT's evaluation flag: 0 marks a box not to evaluate;
- tracker output: ``frame,id,x,y,w,h,conf,-1,-1,-1`` (6 to 10 columns; without ``conf`` it reads as 1);
- detections: ``frame,-1,x,y,w,h,conf,-1,-1,-1`` (7 to 10 columns). Two optional extensions for a tracker's
  input: column 8 is the detection's integer class (MOT ground truth's class column; -1 on every row, as MOT's own
  files have it, means no classes), and columns 11 onwards are its appearance embedding, one value per column
  (DeepSORT's detection files put the features after the ten MOT columns the same way).

Files are read with pyarrow's CSV reader (a 90-minute match is millions of rows). Anything it rejects, and any
bad value, sends the file through a line-by-line reader whose only job is to say which line and which field is
wrong; that reader also accepts what pyarrow is strict about (spaces after commas, a trailing comma).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from numpy.typing import NDArray

from cvops.errors import InputError
from cvops.io import atomic_path

GT_COLUMNS = ("frame", "id", "x", "y", "w", "h", "conf", "cls", "visibility")
TRACKER_COLUMNS = ("frame", "id", "x", "y", "w", "h", "conf")
DETECTION_COLUMNS = ("frame", "x", "y", "w", "h", "conf")

_INT_COLUMNS = ("frame", "id", "cls")


# Detection files: the class column (0-based position) and where the embedding columns start.
_CLASS_POSITION = 7
_EMBEDDING_START = 10


@dataclass(frozen=True)
class _Layout:
    kind: str
    field_names: tuple[str, ...]
    """Name of each file column by position; columns past the end are read but ignored."""
    column_counts: frozenset[int]
    unique_ids: bool
    embeddings: bool = False
    """Columns past the tenth are an embedding (detections only)."""
    for_tracker: bool = False
    """Also the tracker's rules: boxes have an area, embeddings are not all zero."""

    def accepts(self, n_columns: int) -> bool:
        return n_columns in self.column_counts or (self.embeddings and n_columns > _EMBEDDING_START)

    def allowed(self) -> str:
        counts = ", ".join(str(n) for n in sorted(self.column_counts))
        return f"{counts} (or more: an embedding)" if self.embeddings else counts

    def field(self, position: int) -> str:
        if self.embeddings and position >= _EMBEDDING_START:
            return f"emb_{position - _EMBEDDING_START}"
        return self.field_names[position] if position < len(self.field_names) else f"column {position + 1}"


_GT = _Layout("ground truth", GT_COLUMNS, frozenset({6, 9, 10}), unique_ids=True)
_TRACKER = _Layout("tracker", TRACKER_COLUMNS, frozenset({6, 7, 8, 9, 10}), unique_ids=True)
_DETECTIONS = _Layout(
    "detection",
    ("frame", "id", "x", "y", "w", "h", "conf", "cls"),
    frozenset({7, 8, 9, 10}),
    unique_ids=False,
    embeddings=True,
)
_TRACKER_INPUT = dataclasses.replace(_DETECTIONS, for_tracker=True)


def mot_gt_path(path: str | Path) -> Path:
    """``path`` itself if it is a file, ``path/gt/gt.txt`` if it is a MOT sequence folder."""
    path = Path(path)
    if path.is_dir():
        candidate = path / "gt" / "gt.txt"
        if not candidate.is_file():
            raise InputError("is a folder without gt/gt.txt (expected a MOT sequence folder or a file)", file=path)
        return candidate
    if not path.is_file():
        raise InputError("no such file", file=path)
    return path


def read_mot_gt(path: str | Path) -> pd.DataFrame:
    """Ground truth: columns ``frame,id,x,y,w,h`` plus ``conf,cls,visibility`` when the file has them."""
    values, n_columns = _read(Path(path), _GT)
    names = GT_COLUMNS if n_columns >= 9 else GT_COLUMNS[:6]
    return _frame(values, names, range(len(names)))


def read_mot_tracker(path: str | Path) -> pd.DataFrame:
    """Tracker output: columns ``frame,id,x,y,w,h,conf``."""
    values, n_columns = _read(Path(path), _TRACKER)
    if n_columns == 6:
        values = np.column_stack([values, np.ones(len(values))])
    return _frame(values, TRACKER_COLUMNS, range(7))


def read_mot_detections(path: str | Path, *, for_tracker: bool = False) -> pd.DataFrame:
    """Detections: columns ``frame,x,y,w,h,conf`` (the id column, -1 by convention, is dropped), then ``cls``
    when column 8 holds classes and ``emb_0 .. emb_{D-1}`` when the rows go on past ten columns.

    ``for_tracker``: also reject what the tracker cannot use, naming the line: a box without area, an all-zero
    embedding.
    """
    values, n_columns = _read(Path(path), _TRACKER_INPUT if for_tracker else _DETECTIONS)
    names, positions = list(DETECTION_COLUMNS), [0, 2, 3, 4, 5, 6]
    if n_columns > _CLASS_POSITION and len(values) and (values[:, _CLASS_POSITION] >= 0).any():
        names.append("cls")
        positions.append(_CLASS_POSITION)
    for position in range(_EMBEDDING_START, n_columns):
        names.append(f"emb_{position - _EMBEDDING_START}")
        positions.append(position)
    return _frame(values, names, positions)


def write_mot_tracker_file(path: str | Path, tracks: pd.DataFrame) -> None:
    """Write ``frame,id,x,y,w,h,conf,-1,-1,-1`` rows (id from ``track_id`` or ``id``), sorted by frame, id.

    The class is not written: MOT tools read column 8 as a class and TrackEval rejects anything but -1 or 1.
    """
    tracks = tracks.rename(columns={"track_id": "id"}) if "track_id" in tracks.columns else tracks
    _write(path, tracks, ("frame", "id", "x", "y", "w", "h", "conf"), n_minus_ones=3)


def write_mot_gt(path: str | Path, gt: pd.DataFrame) -> None:
    """Write a 9-column ground-truth file; ``conf`` (flag), ``cls`` and ``visibility`` default to 1."""
    gt = gt.assign(**{c: gt[c] if c in gt.columns else 1 for c in ("conf", "cls", "visibility")})
    _write(path, gt, GT_COLUMNS, n_minus_ones=0)


def write_mot_detections(path: str | Path, detections: pd.DataFrame) -> None:
    """Write ``frame,-1,x,y,w,h,conf,-1,-1,-1`` rows sorted by frame; a ``cls`` column goes into column 8 and
    ``emb_0 .. emb_{D-1}`` columns after the tenth (the extensions :func:`read_mot_detections` reads)."""
    columns = ["frame", "id", "x", "y", "w", "h", "conf"]
    if "cls" in detections.columns:
        columns.append("cls")
    embedding = sorted(
        (c for c in detections.columns if str(c).startswith("emb_") and str(c)[4:].isdigit()),
        key=lambda c: int(str(c)[4:]),
    )
    _write(path, detections.assign(id=-1), columns, n_minus_ones=10 - len(columns), trailing=embedding)


# -- writing ---------------------------------------------------------------------------------------

# Box coordinates keep 1/100 px and scores 1e-4: far below any IoU or threshold that reads them back.
_DECIMALS = {"x": 2, "y": 2, "w": 2, "h": 2, "conf": 4, "visibility": 4}
_EMBEDDING_DECIMALS = 6


def _write(
    path: str | Path, table: pd.DataFrame, columns: Sequence[str], n_minus_ones: int, trailing: Sequence[str] = ()
) -> None:
    """``columns``, then ``n_minus_ones`` columns of -1, then ``trailing`` (embedding values)."""
    missing = [name for name in columns if name not in table.columns]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", file=path, field=missing[0])
    out = pd.DataFrame(index=table.index)
    for name in [*columns, *trailing]:
        series = pd.to_numeric(table[name], errors="coerce").astype(float)
        bad = np.flatnonzero(~np.isfinite(series.to_numpy()))
        if len(bad):
            raise InputError(
                f"cannot write a non-numeric or missing value (DataFrame row {table.index[bad[0]]!r})",
                file=path,
                field=name,
            )
        if name in _INT_COLUMNS:
            out[name] = series.round().astype(np.int64)
        else:
            out[name] = series.round(_DECIMALS.get(name, _EMBEDDING_DECIMALS))
    for i in range(n_minus_ones):
        out.insert(len(columns) + i, f"_pad{i}", -1)
    out = out.sort_values(["frame", "id"])
    # pyarrow writes the shortest repr of each (rounded) float, 8x faster than DataFrame.to_csv.
    options = pacsv.WriteOptions(include_header=False, quoting_style="none")
    with atomic_path(path) as tmp:
        pacsv.write_csv(pa.Table.from_pandas(out, preserve_index=False), tmp, options)


# -- reading ---------------------------------------------------------------------------------------


def _frame(values: NDArray[np.float64], names: Sequence[str], positions: Sequence[int]) -> pd.DataFrame:
    data = {}
    for name, position in zip(names, positions, strict=True):
        column = values[:, position] if len(values) else np.zeros(0)
        data[name] = column.astype(np.int64) if name in _INT_COLUMNS else column.astype(float)
    return pd.DataFrame(data)


def _read(path: Path, layout: _Layout) -> tuple[NDArray[np.float64], int]:
    """All rows as a float (N, columns) array and the file's column count, or an error naming line, field."""
    if not path.is_file():
        raise InputError(f"{layout.kind} file not found", file=path)
    fast = _read_fast(path)
    if fast is not None and layout.accepts(fast.shape[1]) and _first_problem(fast, layout) is None:
        return fast, fast.shape[1]
    values, line_numbers = _read_lines(path, layout)
    problem = _first_problem(values, layout)
    if problem is not None:
        index, position, message = problem
        raise InputError(message, file=path, row=int(line_numbers[index]), field=layout.field(position))
    n_columns = values.shape[1] if len(values) else min(layout.column_counts)
    return values, n_columns


def _read_fast(path: Path) -> NDArray[np.float64] | None:
    """pyarrow's strict parse, or None when the file needs the tolerant line reader (or is bad)."""
    with path.open("rb") as handle:
        first_line = b""
        for line in handle:
            if line.strip():
                first_line = line.strip()
                break
    if not first_line:
        return None
    if first_line.endswith(b",") or b" " in first_line or b"\t" in first_line:
        return None
    n_columns = first_line.count(b",") + 1
    names = [f"c{i}" for i in range(n_columns)]
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=names),
            parse_options=pacsv.ParseOptions(delimiter=","),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.float64())),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if any(column.null_count for column in table.columns):
        return None
    return np.column_stack([column.to_numpy() for column in table.columns]) if table.num_rows else None


def _read_lines(path: Path, layout: _Layout) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Tolerant parse that pins the first malformed line; returns values and their 1-based line numbers."""
    rows: list[list[float]] = []
    line_numbers: list[int] = []
    expected: int | None = None
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            fields = [field.strip() for field in line.rstrip("\r\n").split(",")]
            if len(fields) > 1 and fields[-1] == "":
                fields = fields[:-1]  # a trailing comma, common in MOT tools' output
            if expected is None:
                if not layout.accepts(len(fields)):
                    raise InputError(
                        f"{len(fields)} comma-separated fields; a {layout.kind} file has {layout.allowed()}",
                        file=path,
                        row=line_number,
                    )
                expected = len(fields)
            elif len(fields) != expected:
                raise InputError(
                    f"{len(fields)} fields, but the file's first row has {expected}",
                    file=path,
                    row=line_number,
                )
            row = []
            for position, text in enumerate(fields):
                try:
                    row.append(float(text))
                except ValueError:
                    raise InputError(
                        f"not a number: {text!r}", file=path, row=line_number, field=layout.field(position)
                    ) from None
            rows.append(row)
            line_numbers.append(line_number)
    if not rows:
        return np.zeros((0, min(layout.column_counts))), np.zeros(0, dtype=np.int64)
    return np.asarray(rows, dtype=float), np.asarray(line_numbers, dtype=np.int64)


def _first_problem(values: NDArray[np.float64], layout: _Layout) -> tuple[int, int, str] | None:
    """The first (row index, column position, message) that breaks the layout's rules, or None."""
    if len(values) == 0:
        return None
    checks: list[tuple[NDArray[np.bool_], int, str]] = []
    checked = values.shape[1] if layout.embeddings else min(values.shape[1], len(layout.field_names))
    for position in range(checked):
        if layout.embeddings and len(layout.field_names) <= position < _EMBEDDING_START:
            continue  # MOT's unused 3D columns
        checks.append((~np.isfinite(values[:, position]), position, "not a finite number"))
    frame = values[:, 0]
    checks.append(((frame < 1) | (frame != np.round(frame)), 0, "frame must be an integer >= 1"))
    if layout.unique_ids:
        ids = values[:, 1]
        checks.append(((ids < 0) | (ids != np.round(ids)), 1, "id must be an integer >= 0"))
    width_at = layout.field_names.index("w")
    checks.append((values[:, width_at] < 0, width_at, "negative width"))
    checks.append((values[:, width_at + 1] < 0, width_at + 1, "negative height"))
    if "cls" in layout.field_names and values.shape[1] > layout.field_names.index("cls"):
        cls = values[:, layout.field_names.index("cls")]
        checks.append((cls != np.round(cls), layout.field_names.index("cls"), "class must be an integer"))
    if layout.unique_ids:
        duplicated = pd.DataFrame({"frame": frame, "id": values[:, 1]}).duplicated().to_numpy()
        checks.append((duplicated, 1, "the same id appears twice in one frame"))
    if layout.embeddings:
        checks.extend(_detection_problems(values, layout))
    found = [(int(np.argmax(mask)), position, message) for mask, position, message in checks if mask.any()]
    return min(found) if found else None


def _detection_problems(values: NDArray[np.float64], layout: _Layout) -> list[tuple[NDArray[np.bool_], int, str]]:
    """A detection file's own rules: classes on every row or on none; for a tracker, boxes with an area and
    embeddings that are not all zero."""
    checks = []
    if values.shape[1] > _CLASS_POSITION:
        cls = values[:, _CLASS_POSITION]
        if (cls >= 0).any():
            message = "class must be an integer >= 0 (-1 means no class only when every row has -1)"
            checks.append((cls < 0, _CLASS_POSITION, message))
    if layout.for_tracker:
        width_at = layout.field_names.index("w")
        checks.append((values[:, width_at] <= 0, width_at, "box width must be > 0"))
        checks.append((values[:, width_at + 1] <= 0, width_at + 1, "box height must be > 0"))
        if values.shape[1] > _EMBEDDING_START:
            zero = ~np.any(values[:, _EMBEDDING_START:] != 0, axis=1)
            checks.append((zero, _EMBEDDING_START, "the embedding is all zeros"))
    return checks
