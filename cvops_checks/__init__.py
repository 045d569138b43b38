"""Data quality checks: Great Expectations suites, run inside Dagster asset checks."""
