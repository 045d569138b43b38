"""The Great Expectations suites that guard a match's raw labels.

Three suites, each one asset check:

* ``label_schema`` (blocking): the manifest has exactly the expected columns, types and no nulls.
* ``label_values`` (blocking): positive box sizes, known roles, one box per track and frame, frames within the
  video, boxes inside the image (up to a tolerance, since annotators drag boxes a little past the border).
* ``label_distribution`` (warning): enough keyframes per track, and a plausible number of players per frame.
  These describe the match rather than break the data, so they warn instead of stopping the match.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from cvops.catalog import TABLES
from cvops.expectations.runner import ExpectationOutcome, expectation_suite, validate
from cvops.labels import ROLES
from cvops.labels.summary import players_per_frame

# GX names types as pandas reports them; strings are Python ``str`` values (pandas 3's default string dtype).
_RAW_LABEL_TYPES = {
    "frame": "int64",
    "track_id": "int64",
    "role": "str",
    "x": "float64",
    "y": "float64",
    "w": "float64",
    "h": "float64",
    "is_keyframe": "bool",
}


@dataclass(frozen=True)
class LabelCheckConfig:
    """Thresholds of the label checks (defaults suit a broadcast camera over a full pitch)."""

    box_tolerance_px: float = 8.0
    min_keyframes_per_track: int = 2
    min_players_per_frame: int = 8
    max_players_per_frame: int = 30
    players_per_frame_mostly: float = 0.95


@dataclass(frozen=True)
class MatchGeometry:
    n_frames: int
    width: int
    height: int


def check_schema(labels: pd.DataFrame) -> list[ExpectationOutcome]:
    import great_expectations as gx

    columns = TABLES["raw_labels"].schema.names
    expectations = [gx.expectations.ExpectTableColumnsToMatchSet(column_set=columns, exact_match=True)]
    for column in columns:
        if column not in labels.columns:
            continue
        expectations.append(gx.expectations.ExpectColumnValuesToBeOfType(column=column, type_=_RAW_LABEL_TYPES[column]))
        expectations.append(gx.expectations.ExpectColumnValuesToNotBeNull(column=column))
    return validate(labels, expectation_suite("label_schema", expectations))


def check_values(labels: pd.DataFrame, geometry: MatchGeometry, settings: LabelCheckConfig) -> list[ExpectationOutcome]:
    import great_expectations as gx

    tol = settings.box_tolerance_px
    frame = labels.assign(right=labels["x"] + labels["w"], bottom=labels["y"] + labels["h"])
    expectations = [
        gx.expectations.ExpectColumnValuesToBeBetween(column="w", min_value=0, strict_min=True),
        gx.expectations.ExpectColumnValuesToBeBetween(column="h", min_value=0, strict_min=True),
        gx.expectations.ExpectColumnValuesToBeInSet(column="role", value_set=list(ROLES)),
        gx.expectations.ExpectCompoundColumnsToBeUnique(column_list=["frame", "track_id"]),
        gx.expectations.ExpectColumnValuesToBeBetween(column="frame", min_value=1, max_value=geometry.n_frames),
        gx.expectations.ExpectColumnValuesToBeBetween(column="x", min_value=-tol),
        gx.expectations.ExpectColumnValuesToBeBetween(column="y", min_value=-tol),
        gx.expectations.ExpectColumnValuesToBeBetween(column="right", max_value=geometry.width + tol),
        gx.expectations.ExpectColumnValuesToBeBetween(column="bottom", max_value=geometry.height + tol),
    ]
    return validate(frame, expectation_suite("label_values", expectations))


def check_distribution(
    labels: pd.DataFrame, geometry: MatchGeometry, settings: LabelCheckConfig
) -> list[ExpectationOutcome]:
    import great_expectations as gx

    keyframes = (
        labels.groupby("track_id")["is_keyframe"].sum().rename("keyframes").reset_index()
        if len(labels)
        else pd.DataFrame({"track_id": pd.Series(dtype="int64"), "keyframes": pd.Series(dtype="int64")})
    )
    per_frame = players_per_frame(labels, geometry.n_frames).reset_index()
    outcomes = validate(
        keyframes,
        expectation_suite(
            "label_keyframes",
            [
                gx.expectations.ExpectTableRowCountToBeBetween(min_value=1),
                gx.expectations.ExpectColumnValuesToBeBetween(
                    column="keyframes", min_value=settings.min_keyframes_per_track
                ),
            ],
        ),
    )
    outcomes += validate(
        per_frame,
        expectation_suite(
            "label_players_per_frame",
            [
                gx.expectations.ExpectColumnValuesToBeBetween(
                    column="players",
                    min_value=settings.min_players_per_frame,
                    max_value=settings.max_players_per_frame,
                    mostly=settings.players_per_frame_mostly,
                )
            ],
        ),
    )
    return outcomes


LABEL_SUITES: dict[str, tuple[str, bool]] = {
    "label_schema": ("Columns, types and no nulls in the raw label manifest.", True),
    "label_values": ("Positive sizes, known roles, one box per track and frame, frames and boxes in range.", True),
    "label_distribution": ("Keyframes per track and players per frame within the configured ranges.", False),
}
"""Suite name -> (what it checks, whether it is blocking). A blocking suite that fails stops the match: nothing
downstream of its labels runs, and the selection leaves it out."""

CHECK_RESULT_COLUMNS = (
    "check",
    "expectation",
    "passed",
    "severity",
    "blocking",
    "element_count",
    "unexpected_count",
    "observed",
    "sample",
    "checked_at",
)


def validate_labels(
    labels: pd.DataFrame, geometry: MatchGeometry, config: LabelCheckConfig
) -> dict[str, list[ExpectationOutcome]]:
    """Every suite's outcomes; the value suites only run on a manifest whose schema is right (absent otherwise)."""
    outcomes = {"label_schema": check_schema(labels)}
    if all(o.passed for o in outcomes["label_schema"]):
        outcomes["label_values"] = check_values(labels, geometry, config)
        outcomes["label_distribution"] = check_distribution(labels, geometry, config)
    return outcomes


def check_results_table(outcomes: dict[str, list[ExpectationOutcome]], checked_at: pd.Timestamp) -> pd.DataFrame:
    """One ``label_check_results`` row per expectation (the catalog keeps every outcome next to the data)."""
    rows = []
    for suite, results in outcomes.items():
        blocking = LABEL_SUITES[suite][1]
        for outcome in results:
            rows.append(
                {
                    "check": suite,
                    "expectation": outcome.expectation,
                    "passed": outcome.passed,
                    "severity": "error" if blocking else "warn",
                    "blocking": blocking,
                    "element_count": outcome.element_count,
                    "unexpected_count": outcome.unexpected_count,
                    "observed": outcome.observed,
                    "sample": outcome.sample_json(),
                    "checked_at": checked_at,
                }
            )
    return pd.DataFrame(rows, columns=list(CHECK_RESULT_COLUMNS))


def outcomes_from_table(results: pd.DataFrame) -> dict[str, list[ExpectationOutcome]]:
    """The outcomes stored in ``label_check_results`` rows, per suite (what the asset checks report)."""
    outcomes: dict[str, list[ExpectationOutcome]] = {}
    for row in results.itertuples(index=False):
        outcomes.setdefault(str(row.check), []).append(ExpectationOutcome.from_row(row._asdict()))
    return outcomes
