"""Great Expectations 1.x suites over the platform's tables, and running them on a pandas DataFrame.

The Dagster layer turns their outcomes into asset checks (``cvops_checks``); here they are plain functions, so a
notebook can validate a label manifest the same way.
"""

from cvops.expectations.label_suites import (
    LABEL_SUITES,
    LabelCheckConfig,
    MatchGeometry,
    check_distribution,
    check_results_table,
    check_schema,
    check_values,
    outcomes_from_table,
    validate_labels,
)
from cvops.expectations.runner import ExpectationOutcome, outcomes_markdown, validate

__all__ = [
    "LABEL_SUITES",
    "ExpectationOutcome",
    "LabelCheckConfig",
    "MatchGeometry",
    "check_distribution",
    "check_results_table",
    "check_schema",
    "check_values",
    "outcomes_from_table",
    "outcomes_markdown",
    "validate",
    "validate_labels",
]
