"""Partitions: one per match (added by the sensor as matches get annotated), one per model version."""

import dagster as dg

matches_partitions = dg.DynamicPartitionsDefinition(name="matches")
models_partitions = dg.DynamicPartitionsDefinition(name="models")

# A benchmark result belongs to one model version and one benchmark sample (a match).
model_match_partitions = dg.MultiPartitionsDefinition({"model": models_partitions, "match": matches_partitions})
