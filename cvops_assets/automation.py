"""When the stages after the per-match run materialise, declared as Dagster automation conditions.

The match sensor runs each new match's own chain (labels, checks, predictions, cleaning). What comes after needs
every match at once (the selection) and then the new match again (its frames), so it is driven by conditions
that the automation sensor evaluates:

* ``on_any_dep_update``: unpartitioned tables that summarise every match (``match_selection``, the benchmark's
  samples and leaderboard, the promotion, the ``models`` table) re-run when anything upstream changed. Unlike
  ``AutomationCondition.eager()``, it does not wait for *every* match partition to exist: one match whose labels
  fail must not hold up the others.
* ``once_per_match``: a match's frames (``selected_frames``), drift statistics and samples run for that match only
  while it is *missing*, after its inputs were updated. An existing match is never re-run because the selection
  was recomputed: the selection only grows and never moves a match, so its frames stay valid (a policy change is
  handled by an explicit backfill).
"""

import dagster as dg

AC = dg.AutomationCondition

_idle = ~AC.in_progress() & ~AC.any_deps_in_progress()

on_any_dep_update = ((AC.newly_missing() | AC.any_deps_updated()).since_last_handled() & _idle).with_label(
    "on any upstream update"
)

once_per_match = (
    AC.missing() & ~AC.any_deps_missing() & AC.any_deps_updated().since_last_handled() & _idle
).with_label("once per new match, when its inputs are ready")
