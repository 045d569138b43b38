"""cvops: turn human-corrected match annotations into versioned training data, models and benchmarks.

This package is the domain library. It never imports Dagster, so every function here can be used from a
notebook or a script; the Dagster layer lives in ``cvops_assets``, ``cvops_resources`` and ``cvops_checks``.
"""

__version__ = "0.1.0"
