"""Drift: per-match statistics and whether a new match departs from the reference matches (see docs/drift.md).

``match_statistics`` summarises one match from its manifests, ``compare_to_reference`` tests it against other
matches' statistics, and ``reference_statistics`` picks those from the ``match_statistics`` catalog table. The
``match_drift`` asset check (``cvops_checks.drift_checks``) runs them on every match.
"""

from cvops.drift.compare import (
    REPORT_NO_REFERENCE,
    STATUS_DRIFT,
    STATUS_OK,
    STATUS_SKIPPED,
    DriftConfig,
    DriftFinding,
    DriftReport,
    compare_to_reference,
    findings_from_frame,
    verdict,
)
from cvops.drift.reference import reference_statistics
from cvops.drift.stats import (
    DISTRIBUTIONS,
    SCALARS,
    Distribution,
    MatchStatistics,
    freshness_days,
    match_statistics,
    prediction_source_of,
)

__all__ = [
    "DISTRIBUTIONS",
    "REPORT_NO_REFERENCE",
    "SCALARS",
    "STATUS_DRIFT",
    "STATUS_OK",
    "STATUS_SKIPPED",
    "Distribution",
    "DriftConfig",
    "DriftFinding",
    "DriftReport",
    "MatchStatistics",
    "compare_to_reference",
    "findings_from_frame",
    "freshness_days",
    "match_statistics",
    "prediction_source_of",
    "reference_statistics",
    "verdict",
]
