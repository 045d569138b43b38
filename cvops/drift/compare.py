"""Does a match depart from the reference matches? Two-sample tests with an effect-size guard (docs/drift.md).

A p-value alone flags everything once samples are large: with thousands of boxes per match, a 2 % difference in
box height is "significant" and means nothing. So a distribution is flagged only when the test rejects at
``alpha`` *and* the effect is large enough to matter:

* continuous distributions (box width, height, area, matched share, mean IoU): ``scipy.stats.ks_2samp`` against
  the pooled reference; effect = the KS statistic D (the largest gap between the two cumulative distributions);
* players per frame: ``scipy.stats.mannwhitneyu``; effect = the relative shift of the mean. The counts are
  integers packed on a few values, so D jumps by whole probability masses: one player fewer on every frame
  (a red card) gives D ~ 0.6. A relative shift says the same thing in players, which is what matters.

Matches differ legitimately (stadiums have their own camera, hence their own box sizes), and a pooled reference
mixes them: a new match from a stadium the reference knows differs from the *mixture* while matching its own
stadium's matches. So the effect must also reach the minimum against the *closest* single reference match: a
match is new only when it is unlike the pool and unlike each reference match (``nearest_guard``). The closest
match is reported, which also tells a person what the match resembles.

Scalars (share of frames kept, label freshness) have one value per match: a robust z-score against the median
and MAD of the reference matches' values (Iglewicz and Hoaglin's modified z-score, limit 3.5). Freshness is
one-sided: labels that arrive sooner after the match than usual are never a problem, only older ones are.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd
from scipy import stats

from cvops.drift.stats import (
    AGREEMENT_DISTRIBUTIONS,
    BOX_AREA,
    BOX_HEIGHT,
    BOX_WIDTH,
    DISTRIBUTIONS,
    FRESHNESS_DAYS,
    KEPT_SHARE,
    MATCHED_SHARE,
    MEAN_IOU,
    NO_PREDICTIONS,
    PLAYERS_PER_FRAME,
    SCALARS,
    MatchStatistics,
)
from cvops.errors import InputError

TEST_KS = "ks_2samp"
TEST_MANN_WHITNEY = "mannwhitneyu"
TEST_ROBUST_Z = "robust_z"

STATUS_DRIFT = "drift"
STATUS_OK = "ok"
STATUS_SKIPPED = "skipped"
REPORT_NO_REFERENCE = "no_reference"

_ONE_SIDED_HIGH = frozenset({FRESHNESS_DAYS})
"""Scalars that only drift upwards: fresher labels than usual are no cause for concern."""

MAD_TO_SIGMA = 1.4826
"""Scales a MAD to a standard deviation for normal data, so the robust z-score reads like a z-score."""

_UNITS = {
    PLAYERS_PER_FRAME: " players",
    BOX_WIDTH: " px",
    BOX_HEIGHT: " px",
    BOX_AREA: " px²",
    MATCHED_SHARE: "",
    MEAN_IOU: "",
    KEPT_SHARE: "",
    FRESHNESS_DAYS: " days",
}


@dataclass(frozen=True)
class DriftConfig:
    """Thresholds of the drift tests (docs/drift.md explains each and when to change it).

    Attributes:
        alpha: a distribution can only be flagged when its test's p-value is below this.
        min_ks_statistic: ... and its KS statistic D is at least this (0.2: a fifth of the values moved past
            each other; for a normal location shift, about half a standard deviation).
        min_relative_shift: ... or, for players per frame, its mean moved by at least this share (0.15: about
            3 of 22 players).
        nearest_guard: the effect against the closest single reference match must reach the minimum too, so
            a match like one the reference already holds is not flagged however different the pool is. Costs one
            extra test per reference match and statistic (about 1 ms each).
        max_robust_z: a scalar is flagged when its robust z-score exceeds this in absolute value (freshness:
            only when the labels are older than usual, z above the limit).
        kept_share_min_scale, freshness_min_scale_days: floors of the scalars' robust scale, so that a
            reference whose values are (nearly) all equal, every match kept 100 % of its frames, does not flag
            a tiny difference as far away. Review delays of a week or two either way are normal, hence 7 days.
        min_reference_matches: fewer reference matches than this (for a statistic: fewer with enough values)
            means no test: "no reference yet".
        min_samples: a distribution with fewer values than this (in the match or a reference match) is not
            tested; a handful of values says nothing about a distribution.
        max_pooled_samples: the pooled reference takes at most this many values, the same number from each
            reference match, so long matches do not outweigh short ones and the test stays fast.
    """

    alpha: float = 0.01
    min_ks_statistic: float = 0.2
    min_relative_shift: float = 0.15
    nearest_guard: bool = True
    max_robust_z: float = 3.5
    kept_share_min_scale: float = 0.05
    freshness_min_scale_days: float = 7.0
    min_reference_matches: int = 3
    min_samples: int = 30
    max_pooled_samples: int = 20_000

    def __post_init__(self) -> None:
        checks = [
            (0 < self.alpha < 1, "alpha", "must be in (0, 1)"),
            (0 <= self.min_ks_statistic <= 1, "min_ks_statistic", "must be in [0, 1]"),
            (self.min_relative_shift >= 0, "min_relative_shift", "must be >= 0"),
            (self.max_robust_z > 0, "max_robust_z", "must be positive"),
            (self.kept_share_min_scale > 0, "kept_share_min_scale", "must be positive"),
            (self.freshness_min_scale_days > 0, "freshness_min_scale_days", "must be positive"),
            (self.min_reference_matches >= 1, "min_reference_matches", "must be at least 1"),
            (self.min_samples >= 2, "min_samples", "must be at least 2"),
            (self.max_pooled_samples >= 1, "max_pooled_samples", "must be at least 1"),
        ]
        for ok, name, message in checks:
            if not ok:
                raise InputError(f"{message}, got {getattr(self, name)!r}", field=name)


@dataclass(frozen=True)
class DriftFinding:
    """The verdict on one statistic of one match.

    ``value`` is the test statistic (KS D, Mann-Whitney U or the robust z-score), ``effect`` the size compared
    with ``threshold`` (D, the absolute relative shift of the mean, or ``|z|``); ``nearest_match`` and
    ``nearest_effect`` name the most similar single reference match and the effect against it. ``match_value`` and
    ``reference_value`` are the centres quoted in the message: the mean for players per frame, the median of the
    other distributions, the value and the reference median for scalars. ``n_reference`` counts pooled values
    (distributions) or matches (scalars). Numbers are NaN when the statistic was skipped.
    """

    statistic: str
    test: str
    status: str
    message: str
    value: float = math.nan
    p_value: float = math.nan
    effect: float = math.nan
    threshold: float = math.nan
    match_value: float = math.nan
    reference_value: float = math.nan
    n_match: int = 0
    n_reference: int = 0
    reference_matches: int = 0
    nearest_match: str = ""
    nearest_effect: float = math.nan

    @property
    def drifted(self) -> bool:
        return self.status == STATUS_DRIFT


@dataclass(frozen=True)
class DriftReport:
    """Every finding on one match, and the verdict: ``drift``, ``ok`` or ``no_reference``."""

    match_id: str
    reference_ids: tuple[str, ...]
    findings: tuple[DriftFinding, ...]
    status: str
    message: str
    config: DriftConfig = field(default_factory=DriftConfig)

    @property
    def drifted(self) -> list[DriftFinding]:
        return [f for f in self.findings if f.drifted]

    @property
    def skipped(self) -> list[DriftFinding]:
        return [f for f in self.findings if f.status == STATUS_SKIPPED]

    def as_frame(self, checked_at: pd.Timestamp) -> pd.DataFrame:
        """The ``match_drift`` rows of this report (columns of ``MATCH_DRIFT_TABLE``, plus match_id)."""
        rows = [
            {
                "match_id": self.match_id,
                "statistic": f.statistic,
                "test": f.test,
                "status": f.status,
                "drifted": f.drifted,
                "value": f.value,
                "p_value": f.p_value,
                "effect": f.effect,
                "threshold": f.threshold,
                "match_value": f.match_value,
                "reference_value": f.reference_value,
                "n_match": f.n_match,
                "n_reference": f.n_reference,
                "reference_matches": f.reference_matches,
                "nearest_match": f.nearest_match,
                "nearest_effect": f.nearest_effect,
                "message": f.message,
                "checked_at": checked_at,
            }
            for f in self.findings
        ]
        return pd.DataFrame(rows)

    def markdown(self) -> str:
        """A table of the findings, drifted first, for the asset check's metadata."""
        order = {STATUS_DRIFT: 0, STATUS_OK: 1, STATUS_SKIPPED: 2}
        lines = [
            "| statistic | verdict | test | match | reference | effect | limit | p-value | note |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for f in sorted(self.findings, key=lambda f: order[f.status]):
            verdict = f"**{f.status}**" if f.drifted else f.status
            lines.append(
                f"| {f.statistic} | {verdict} | {f.test} | {_num(f.match_value)} | {_num(f.reference_value)} "
                f"| {_num(f.effect)} | {_num(f.threshold)} | {_p(f.p_value)} | {f.message} |"
            )
        return "\n".join(lines)


def compare_to_reference(
    match: MatchStatistics, reference: Sequence[MatchStatistics], config: DriftConfig | None = None
) -> DriftReport:
    """Test each statistic of ``match`` against ``reference`` (other matches; the match itself is ignored).

    Agreement distributions are compared only with reference matches whose predictions come from the same
    source: agreement with the production model and agreement with the product's detections are different
    quantities. Too small a reference gives a ``no_reference`` report, never an error.
    """
    config = config or DriftConfig()
    others = [r for r in reference if r.match_id != match.match_id]
    ids = tuple(r.match_id for r in others)
    if len(others) < config.min_reference_matches:
        message = (
            f"no reference yet: {len(others)} other match(es) have statistics, drift is tested from "
            f"{config.min_reference_matches} on"
        )
        findings = tuple(
            DriftFinding(name, _test_of(name), STATUS_SKIPPED, message, reference_matches=len(others))
            for name in (*DISTRIBUTIONS, *SCALARS)
        )
        return DriftReport(match.match_id, ids, findings, REPORT_NO_REFERENCE, message, config)

    findings = [_compare_distribution(name, match, others, config) for name in DISTRIBUTIONS]
    findings += [_compare_scalar(name, match, others, config) for name in SCALARS]
    status, message = verdict(findings, len(others))
    return DriftReport(match.match_id, ids, tuple(findings), status, message, config)


def verdict(findings: Sequence[DriftFinding], n_reference_matches: int) -> tuple[str, str]:
    """The report's status (``drift``, ``ok`` or ``no_reference``) and one-line message from its findings.

    Without a reference every statistic is skipped with the report's own message (a statistic skipped for its
    own reasons says which statistic), which is how stored findings tell that case apart."""
    if findings and all(f.status == STATUS_SKIPPED and f.message == findings[0].message for f in findings):
        return REPORT_NO_REFERENCE, findings[0].message
    drifted = [f.statistic for f in findings if f.drifted]
    skipped = sum(f.status == STATUS_SKIPPED for f in findings)
    untested = f" ({skipped} statistic(s) not tested)" if skipped else ""
    if drifted:
        return STATUS_DRIFT, f"departs from {n_reference_matches} reference matches in: {', '.join(drifted)}{untested}"
    return STATUS_OK, f"in line with {n_reference_matches} reference matches{untested}"


def findings_from_frame(frame: pd.DataFrame) -> list[DriftFinding]:
    """The findings stored in ``match_drift`` rows (the inverse of :meth:`DriftReport.as_frame`)."""
    names = [f.name for f in fields(DriftFinding)]
    return [DriftFinding(**{name: row[name] for name in names}) for row in frame.to_dict("records")]


def _test_of(name: str) -> str:
    if name in SCALARS:
        return TEST_ROBUST_Z
    return TEST_MANN_WHITNEY if name == PLAYERS_PER_FRAME else TEST_KS


@dataclass(frozen=True)
class _Method:
    """How one distribution is tested: the test, its effect size and the centre quoted in messages."""

    test: str
    run: Callable[[np.ndarray, np.ndarray], tuple[float, float]]
    effect: Callable[[np.ndarray, np.ndarray], float]
    effect_symbol: str
    centre: Callable[[np.ndarray], float]
    centre_name: str


def _method(name: str) -> _Method:
    if name == PLAYERS_PER_FRAME:
        return _Method(TEST_MANN_WHITNEY, _mann_whitney, _relative_mean_shift, "shift", np.mean, "mean")
    return _Method(TEST_KS, _kolmogorov_smirnov, _ks_statistic, "D", np.median, "median")


def _compare_distribution(
    name: str, match: MatchStatistics, reference: Sequence[MatchStatistics], config: DriftConfig
) -> DriftFinding:
    method = _method(name)
    label = name.replace("_", " ")
    comparable = list(reference)
    source_note = ""
    if name in AGREEMENT_DISTRIBUTIONS:
        if match.prediction_source == NO_PREDICTIONS:
            message = f"{label}: no predictions for this match, not measured"
            return DriftFinding(name, method.test, STATUS_SKIPPED, message)
        comparable = [r for r in reference if r.prediction_source == match.prediction_source]
        source_note = f" with predictions from {match.prediction_source}"

    sample = match.sample(name)
    if len(sample) < config.min_samples:
        message = f"{label}: only {len(sample)} value(s) in this match (at least {config.min_samples} needed)"
        return DriftFinding(name, method.test, STATUS_SKIPPED, message, n_match=len(sample))
    usable = [r for r in comparable if len(r.sample(name)) >= config.min_samples]
    if len(usable) < config.min_reference_matches:
        message = (
            f"{label}: only {len(usable)} reference match(es){source_note} with at least {config.min_samples} "
            f"values ({config.min_reference_matches} needed)"
        )
        return DriftFinding(
            name, method.test, STATUS_SKIPPED, message, n_match=len(sample), reference_matches=len(usable)
        )

    samples = [r.sample(name) for r in usable]
    pool = _pool(samples, config.max_pooled_samples)
    value, p_value = method.run(sample, pool)
    effect = method.effect(sample, pool)
    minimum = config.min_relative_shift if name == PLAYERS_PER_FRAME else config.min_ks_statistic
    nearest_match, nearest_effect = "", math.nan
    if config.nearest_guard:
        effects = [method.effect(sample, s) for s in samples]
        nearest = int(np.argmin(effects))
        nearest_match, nearest_effect = usable[nearest].match_id, effects[nearest]
    departs = p_value < config.alpha and effect >= minimum
    drifted = departs and not nearest_effect < minimum  # NaN (guard off) never vetoes

    ours, theirs = float(method.centre(sample)), float(method.centre(pool))
    unit, symbol = _UNITS[name], method.effect_symbol
    where = f"{method.centre_name} {_num(ours)}{unit} vs {_num(theirs)}{unit} in the reference"
    size = f"{symbol}={effect:.2f} (limit {minimum:.2f})"
    closest = f"closest reference match {nearest_match} {symbol}={nearest_effect:.2f}" if nearest_match else ""
    if drifted:
        verdict = f"{size}, p={_p(p_value)}" + (f", {closest}" if closest else "") + ": departs from the reference"
    elif departs:
        verdict = f"{size}, p={_p(p_value)}, but like reference match {nearest_match} ({symbol}={nearest_effect:.2f})"
        verdict += ": in line"
    elif p_value < config.alpha:
        verdict = f"significant (p={_p(p_value)}) but small, {size}: in line"
    else:
        verdict = f"p={_p(p_value)}, {size}: in line"
    return DriftFinding(
        statistic=name,
        test=method.test,
        status=STATUS_DRIFT if drifted else STATUS_OK,
        message=f"{label}: {where} ({_relative(ours, theirs)}); {verdict}",
        value=value,
        p_value=p_value,
        effect=effect,
        threshold=minimum,
        match_value=ours,
        reference_value=theirs,
        n_match=len(sample),
        n_reference=len(pool),
        reference_matches=len(usable),
        nearest_match=nearest_match,
        nearest_effect=nearest_effect,
    )


def _compare_scalar(
    name: str, match: MatchStatistics, reference: Sequence[MatchStatistics], config: DriftConfig
) -> DriftFinding:
    label = name.replace("_", " ")
    ours = match.scalars[name]
    if not math.isfinite(ours):
        why = "the kickoff is unknown" if name == FRESHNESS_DAYS else "the match has no candidate frames"
        return DriftFinding(name, TEST_ROBUST_Z, STATUS_SKIPPED, f"{label}: not measured, {why}")
    values = np.array([r.scalars[name] for r in reference], dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) < config.min_reference_matches:
        return DriftFinding(
            name,
            TEST_ROBUST_Z,
            STATUS_SKIPPED,
            f"{label}: only {len(values)} reference match(es) with a value ({config.min_reference_matches} needed)",
            match_value=ours,
            n_match=1,
            reference_matches=len(values),
        )
    median = float(np.median(values))
    floor = config.freshness_min_scale_days if name == FRESHNESS_DAYS else config.kept_share_min_scale
    scale = max(MAD_TO_SIGMA * float(np.median(np.abs(values - median))), floor)
    z = (ours - median) / scale
    drifted = (z if name in _ONE_SIDED_HIGH else abs(z)) > config.max_robust_z
    unit = _UNITS[name]
    verdict = "departs from the reference" if drifted else "in line"
    message = (
        f"{label}: {_num(ours)}{unit} vs median {_num(median)}{unit} of the reference "
        f"(robust z {z:+.1f}, limit {config.max_robust_z:g}): {verdict}"
    )
    return DriftFinding(
        statistic=name,
        test=TEST_ROBUST_Z,
        status=STATUS_DRIFT if drifted else STATUS_OK,
        message=message,
        value=z,
        effect=abs(z),
        threshold=config.max_robust_z,
        match_value=ours,
        reference_value=median,
        n_match=1,
        n_reference=len(values),
        reference_matches=len(values),
    )


def _pool(samples: Sequence[np.ndarray], max_values: int) -> np.ndarray:
    """The same number of values from each sample (samples are in random order, so a prefix is random)."""
    per_match = max(1, max_values // len(samples))
    return np.concatenate([s[:per_match] for s in samples])


def _kolmogorov_smirnov(sample: np.ndarray, pool: np.ndarray) -> tuple[float, float]:
    result = stats.ks_2samp(sample, pool)
    return float(result.statistic), float(result.pvalue)


def _ks_statistic(sample: np.ndarray, pool: np.ndarray) -> float:
    return float(stats.ks_2samp(sample, pool, method="asymp").statistic)


def _relative_mean_shift(sample: np.ndarray, pool: np.ndarray) -> float:
    reference = float(np.mean(pool))
    ours = float(np.mean(sample))
    if reference == 0:
        return 0.0 if ours == 0 else math.inf
    return abs(ours / reference - 1)


def _mann_whitney(sample: np.ndarray, pool: np.ndarray) -> tuple[float, float]:
    if np.ptp(np.concatenate([sample, pool])) == 0:
        # Every value is the same (say, every frame has 22 players): no difference, and scipy would warn.
        return float(len(sample) * len(pool) / 2), 1.0
    result = stats.mannwhitneyu(sample, pool, alternative="two-sided")
    return float(result.statistic), float(result.pvalue)


def _relative(ours: float, theirs: float) -> str:
    if theirs == 0 or not (math.isfinite(ours) and math.isfinite(theirs)):
        return "n/a"
    return f"{ours / theirs - 1:+.0%}"


def _num(value: float) -> str:
    if not math.isfinite(value):
        return "" if math.isnan(value) else str(value)
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def _p(value: float) -> str:
    if math.isnan(value):
        return ""
    return f"{value:.1e}" if value < 0.001 else f"{value:.3f}"
