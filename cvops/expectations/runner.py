"""Running a Great Expectations 1.x suite on a pandas DataFrame, and reporting its outcomes as markdown.

``dagster-ge`` only supports GX < 1.0, so cvops uses GX's own API: an ephemeral context with a pandas data
source, built once per process (GX takes seconds to import, so it is imported on first use, never when the
Dagster definitions load).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    import great_expectations as gx

SAMPLE_ROWS = 5


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's verdict, with the counts and a few offending rows a person needs to act on it."""

    expectation: str
    passed: bool
    element_count: int
    unexpected_count: int
    observed: str
    sample: pd.DataFrame

    def sample_json(self) -> str:
        return self.sample.to_json(orient="records") if len(self.sample) else "[]"

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ExpectationOutcome:
        """An outcome as stored in a catalog row (``sample`` as the JSON of :meth:`sample_json`)."""
        sample = pd.DataFrame(json.loads(row["sample"] or "[]"))
        return cls(
            expectation=str(row["expectation"]),
            passed=bool(row["passed"]),
            element_count=int(row["element_count"]),
            unexpected_count=int(row["unexpected_count"]),
            observed=str(row["observed"] or ""),
            sample=sample,
        )


@functools.cache
def _batch_definition() -> Any:
    """The process's one ephemeral GX context (GX also needs it active before a suite can be built)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("cvops")
    return source.add_dataframe_asset("frame").add_batch_definition_whole_dataframe("whole")


def expectation_suite(name: str, expectations: list[gx.expectations.Expectation]) -> gx.ExpectationSuite:
    import great_expectations as gx

    _batch_definition()
    suite = gx.ExpectationSuite(name=name)
    for expectation in expectations:
        suite.add_expectation(expectation)
    return suite


def validate(frame: pd.DataFrame, suite: gx.ExpectationSuite) -> list[ExpectationOutcome]:
    """Validate ``frame`` against ``suite``; one outcome per expectation, in the suite's order."""
    batch = _batch_definition().get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(suite, result_format={"result_format": "COMPLETE", "partial_unexpected_count": 0})
    outcomes = []
    for item in result.results:
        config = item.expectation_config
        details = item.result or {}
        indexes = list(details.get("unexpected_index_list") or [])[:SAMPLE_ROWS]
        sample = frame.loc[indexes] if indexes and all(i in frame.index for i in indexes) else frame.iloc[0:0]
        observed = details.get("observed_value")
        column = config.kwargs.get("column") or config.kwargs.get("column_list") or ""
        name = f"{config.type}({column})" if column else config.type
        outcomes.append(
            ExpectationOutcome(
                expectation=name,
                passed=bool(item.success),
                element_count=int(details.get("element_count") or len(frame)),
                unexpected_count=int(details.get("unexpected_count") or (0 if item.success else 1)),
                observed="" if observed is None else json.dumps(observed, default=str),
                sample=sample,
            )
        )
    return outcomes


def outcomes_markdown(outcomes: list[ExpectationOutcome]) -> str:
    """A table of every expectation, then a few offending rows of each failed one."""
    lines = ["| expectation | passed | unexpected / rows | observed |", "|---|---|---|---|"]
    for o in outcomes:
        lines.append(
            f"| `{o.expectation}` | {'yes' if o.passed else '**no**'} | {o.unexpected_count} / {o.element_count} "
            f"| {o.observed[:80]} |"
        )
    for o in outcomes:
        if not o.passed and len(o.sample):
            lines += [
                "",
                f"Offending rows of `{o.expectation}` (first {len(o.sample)}):",
                "",
                o.sample.to_markdown(),
            ]
    return "\n".join(lines)
