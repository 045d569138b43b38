"""Every catalog table as an asset spec, and the label store as the external asset everything starts from.

A table's description and column schema come from the one schema registry, :data:`cvops.catalog.TABLES`, so the
lineage view, the asset's "Columns" tab, the Parquet files and docs/catalog.md cannot disagree.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from cvops.catalog import TABLES, TableSpec
from cvops_assets.partitions import matches_partitions

label_store = dg.AssetSpec(
    "label_store",
    description="The product's export (CVOPS_LABEL_STORE): matches.csv, each match's keyframes and det.txt, and "
    "the videos they reference. annotated_matches_sensor observes it on every change of matches.csv.",
    group_name="labels",
    kinds={"csv"},
)


def column_schema(spec: TableSpec) -> dg.TableSchema:
    """The table's columns as the catalog shows them (``match_id`` first for per-match tables)."""
    types = {name: str(spec.schema.field(name).type) for name in spec.schema.names}
    return dg.TableSchema(
        columns=[dg.TableColumn(name, types.get(name, "string")) for name in spec.columns],
    )


def table_asset(
    name: str,
    *,
    deps: Sequence[dg.CoercibleToAssetDep] = (),
    group_name: str,
    automation_condition: dg.AutomationCondition | None = None,
    kinds: frozenset[str] | set[str] = frozenset({"parquet"}),
    partitions_def: dg.PartitionsDefinition | None = None,
) -> dg.AssetSpec:
    """The spec of catalog table ``name``: per-match tables are partitioned by match unless ``partitions_def``
    says otherwise (a benchmark result is one (model, match) pair, stored in its match's file)."""
    spec = TABLES[name]
    return dg.AssetSpec(
        name,
        deps=deps,
        description=spec.description,
        group_name=group_name,
        kinds=set(kinds),
        metadata={"dagster/column_schema": column_schema(spec), "dagster/table_name": name},
        partitions_def=partitions_def or (matches_partitions if spec.partitioned_by_match else None),
        automation_condition=automation_condition,
    )
