"""The ``match_drift`` asset check: does any statistic of the match depart from the reference matches?

It reads the findings that ``measure_drift`` stored for the match and only ever warns: a drifted match is not
wrong, it is new (docs/drift.md says what each warning means and what to do). The full report, with the
reference matches and every finding, is the ``match_drift`` asset's metadata.
"""

import dagster as dg

from cvops.drift import STATUS_DRIFT, findings_from_frame, verdict
from cvops_resources import CatalogResource


def match_drift_check(partitions_def: dg.PartitionsDefinition) -> dg.AssetChecksDefinition:
    """The check, partitioned like ``match_drift`` (given by the definitions, so that checks never import assets)."""

    @dg.asset_check(
        asset="match_drift",
        name="match_drift",
        partitions_def=partitions_def,
        blocking=False,
        description="Warns when a match's players per frame, box sizes, share of frames kept, agreement with the "
        "predictions or label freshness depart from the reference matches (docs/drift.md).",
    )
    def match_drift(context: dg.AssetCheckExecutionContext, catalog: CatalogResource) -> dg.AssetCheckResult:
        rows = catalog.get_catalog().read("match_drift", context.partition_key)
        findings = findings_from_frame(rows)
        references = int(rows["reference_matches"].max()) if len(rows) else 0
        status, message = verdict(findings, references)
        drifted = [f.statistic for f in findings if f.drifted]
        return dg.AssetCheckResult(
            passed=status != STATUS_DRIFT,
            severity=dg.AssetCheckSeverity.WARN,
            description=message,
            metadata={"status": status, "drifted": ", ".join(drifted) or "none"},
        )

    return match_drift
