"""Asset checks on ``raw_labels``: the Great Expectations suites of ``label_suites``, per match partition.

The structural checks are blocking: when one fails, nothing downstream of that match's labels runs in the same run,
and the match selection excludes the match. Every outcome is also kept in the catalog (``label_check_results``) so
it can be queried next to the data it judged.
"""

import warnings
from dataclasses import asdict

import dagster as dg
import pandas as pd

from cvops.expectations.label_suites import (
    LabelCheckConfig,
    MatchGeometry,
    check_distribution,
    check_schema,
    check_values,
)
from cvops.expectations.runner import ExpectationOutcome, outcomes_markdown
from cvops_assets.partitions import matches_partitions
from cvops_resources import CatalogResource

_DEFAULTS = LabelCheckConfig()

# Checks per partition are marked "preview" in Dagster 1.13; they are what makes a check's verdict belong to one
# match (and block only that match's downstream), so we use them and silence the one warning they raise.
warnings.filterwarnings("ignore", category=dg.PreviewWarning, message=".*partitions_def on an AssetCheckSpec.*")


class LabelChecksConfig(dg.Config):
    """Thresholds of the label checks; see ``LabelCheckConfig`` for their meaning."""

    box_tolerance_px: float = _DEFAULTS.box_tolerance_px
    min_keyframes_per_track: int = _DEFAULTS.min_keyframes_per_track
    min_players_per_frame: int = _DEFAULTS.min_players_per_frame
    max_players_per_frame: int = _DEFAULTS.max_players_per_frame
    players_per_frame_mostly: float = _DEFAULTS.players_per_frame_mostly


LABEL_CHECKS = {
    "label_schema": ("Columns, types and no nulls in the raw label manifest.", True),
    "label_values": (
        "Positive sizes, known roles, one box per track and frame, frames and boxes in range.",
        True,
    ),
    "label_distribution": ("Keyframes per track and players per frame within the configured ranges.", False),
}


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            name,
            asset="raw_labels",
            description=description,
            blocking=blocking,
            partitions_def=matches_partitions,
        )
        for name, (description, blocking) in LABEL_CHECKS.items()
    ],
    description="Great Expectations suites over one match's raw labels.",
)
def raw_labels_checks(context: dg.AssetCheckExecutionContext, config: LabelChecksConfig, catalog: CatalogResource):
    match_id = context.partition_key
    labels = catalog.read("raw_labels", match_id)
    match = catalog.read("matches", match_id).iloc[0]
    geometry = MatchGeometry(n_frames=int(match.n_frames), width=int(match.width), height=int(match.height))
    settings = LabelCheckConfig(**config.model_dump())

    outcomes = {"label_schema": check_schema(labels)}
    schema_ok = all(o.passed for o in outcomes["label_schema"])
    if schema_ok:
        outcomes["label_values"] = check_values(labels, geometry, settings)
        outcomes["label_distribution"] = check_distribution(labels, geometry, settings)

    checked_at = pd.Timestamp.now(tz="UTC")
    rows = []
    for name, (_, blocking) in LABEL_CHECKS.items():
        results = outcomes.get(name)
        if results is None:
            yield dg.AssetCheckResult(
                check_name=name,
                passed=False,
                severity=dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN,
                description="not run: the label manifest's schema is wrong (see label_schema)",
            )
            continue
        rows += [_result_row(name, blocking, o, checked_at) for o in results]
        failed = [o for o in results if not o.passed]
        yield dg.AssetCheckResult(
            check_name=name,
            passed=not failed,
            severity=dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN,
            description=(
                "all expectations met" if not failed else "failed: " + ", ".join(o.expectation for o in failed)
            ),
            metadata={
                "expectations": len(results),
                "failed_expectations": len(failed),
                "unexpected_rows": sum(o.unexpected_count for o in failed),
                "report": dg.MetadataValue.md(outcomes_markdown(results)),
            },
        )
    catalog.write("label_check_results", pd.DataFrame(rows, columns=_RESULT_COLUMNS), match_id)


_RESULT_COLUMNS = [
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
]


def _result_row(check: str, blocking: bool, outcome: ExpectationOutcome, checked_at: pd.Timestamp) -> dict:
    row = asdict(outcome)
    row.pop("sample")
    return {
        **row,
        "check": check,
        "severity": "error" if blocking else "warn",
        "blocking": blocking,
        "sample": outcome.sample_json(),
        "checked_at": checked_at,
    }
