"""The ``cvops`` command line: a thin layer over the ``cvops`` library (and, for ``demo``, the Dagster project).

It is a package of its own, above ``cvops``, ``cvops_resources``, ``cvops_checks`` and ``cvops_assets``, because
some commands drive the Dagster project while the library must never import it. Sub-commands are loaded only when
used (see :mod:`cvops_cli.main`), so ``cvops --help`` does not pay for torch, pandas or Dagster.
"""

from cvops_cli.main import main

__all__ = ["main"]
