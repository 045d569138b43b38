"""Asset checks on ``raw_labels``: the verdicts of the Great Expectations suites, per match partition.

The suites run when a match's labels are read (``read_match_labels``), which stores every expectation's outcome in
``label_check_results``; a check reports its suite's outcomes from there, so re-running a check never re-validates
different data than the step that wrote it. The structural suites are blocking: when one fails, nothing downstream
of that match's labels runs in the same run (and the match selection leaves the match out).
"""

import dagster as dg

from cvops.expectations import LABEL_SUITES, outcomes_from_table, outcomes_markdown
from cvops_resources import CatalogResource


def label_checks(partitions_def: dg.PartitionsDefinition) -> dg.AssetChecksDefinition:
    """The three label checks, one per suite, partitioned like ``raw_labels`` (given by the definitions, so that
    checks never import the assets)."""

    @dg.multi_asset_check(
        specs=[
            dg.AssetCheckSpec(
                suite,
                asset="raw_labels",
                description=description,
                blocking=blocking,
                partitions_def=partitions_def,
                additional_deps=["label_check_results"],
            )
            for suite, (description, blocking) in LABEL_SUITES.items()
        ],
        description="The Great Expectations suites' verdicts on one match's raw labels.",
    )
    def raw_labels_checks(context: dg.AssetCheckExecutionContext, catalog: CatalogResource):
        results = catalog.get_catalog().read("label_check_results", context.partition_key)
        outcomes = outcomes_from_table(results)
        for suite, (_, blocking) in LABEL_SUITES.items():
            severity = dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN
            suite_outcomes = outcomes.get(suite)
            if suite_outcomes is None:
                yield dg.AssetCheckResult(
                    check_name=suite,
                    passed=False,
                    severity=severity,
                    description="not run: the label manifest's schema is wrong (see label_schema)",
                )
                continue
            failed = [o for o in suite_outcomes if not o.passed]
            yield dg.AssetCheckResult(
                check_name=suite,
                passed=not failed,
                severity=severity,
                description="all expectations met"
                if not failed
                else "failed: " + ", ".join(o.expectation for o in failed),
                metadata={
                    "expectations": len(suite_outcomes),
                    "failed_expectations": len(failed),
                    "unexpected_rows": sum(o.unexpected_count for o in failed),
                    "report": dg.MetadataValue.md(outcomes_markdown(suite_outcomes)),
                },
            )

    return raw_labels_checks
