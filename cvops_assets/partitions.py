"""Partitions: one per match, added by the sensor as matches get annotated."""

import dagster as dg

matches_partitions = dg.DynamicPartitionsDefinition(name="matches")
