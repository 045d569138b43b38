"""The Dagster layer: assets, sensors, jobs, the GPU executor and the one ``Definitions`` (``definitions.py``).

Dagster marks some features cvops relies on as beta or preview; their warnings say nothing a user can act on, so
they are silenced here, once, before any definition is built:

* checks per partition (``partitions_def`` on an ``AssetCheckSpec``): what makes a check's verdict belong to one
  match, and a blocking check stop only that match;
* ``MultiToSingleDimensionPartitionMapping``: a (model, match) benchmark result depends on the match's labels;
* ``include_sources`` in Dagster's own automation-condition evaluation, which the demo runs in-process.
"""

import warnings

import dagster as dg

warnings.filterwarnings("ignore", category=dg.PreviewWarning, message=".*partitions_def on an AssetCheckSpec.*")
warnings.filterwarnings("ignore", category=dg.BetaWarning, message=".*MultiToSingleDimensionPartitionMapping.*")
warnings.filterwarnings("ignore", category=dg.BetaWarning, message=".*include_sources.*")
