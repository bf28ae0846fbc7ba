"""The M&V verdict: each statistic against the limit a published source sets for it, or none.

A baseline model is judged per data granularity. Where a source sets a limit the check passes or
fails; where none does (daily models have no published CV(RMSE) or NMBE limit) the statistic is
shown with outcome ``no_limit`` and never counted as a pass. Sources (see docs/analytics.md):

* CV(RMSE) of a regression baseline on monthly data: 20 % (< 12 months of reporting), 25 %
  (12-60 months), 30 % (beyond) -- ASHRAE Guideline 14-2014 whole-building path, as recorded in
  /work/shared/REFERENCE.md and docs/analytics.md.
* CV(RMSE) / NMBE against hourly data: 30 % / +-10 %; against monthly data NMBE +-5 % -- ASHRAE
  Guideline 14 calibration criterion: "The computer model shall have an NMBE of 5% and a CV(RMSE) of
  15% relative to monthly calibration data. If hourly calibration data are used, these requirements
  shall be 10% and 30%, respectively." (2002 edition clause 5.3.2.4 f, calibrated simulation; the
  criterion is applied here to a regression model's *out-of-sample* predictions, which is what it
  measures for a simulation). The 15 % monthly CV(RMSE) of that clause is not used: the regression
  baseline's own limit (20 % and up) is the one for Option C.
* Savings uncertainty below 50 % of the savings at 68 % confidence -- ASHRAE Guideline 14-2014
  whole-building performance path; applies to every granularity.
* NMBE is judged out of sample (the baseline's last part held out, the model refitted on the rest):
  an OLS fit with an intercept has NMBE ~ 1e-16 on its own data, so an in-sample check cannot fail.

A configured driver (production, temperature) that is missing or unusable makes the model
*degraded*: a named warning, and the savings are "not verified" whatever the statistics say.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

__all__ = [
    "Granularity",
    "ModelWarning",
    "Outcome",
    "Verdict",
    "VerdictCheck",
    "cv_rmse_rule",
    "fsu_check",
    "judge",
    "nmbe_rule",
]

Outcome = Literal["pass", "fail", "no_limit"]
Granularity = Literal["hourly", "daily", "monthly"]

G14_WHOLE_BUILDING = "ASHRAE Guideline 14-2014, whole-building (Option C) regression baseline"
G14_CALIBRATION = (
    "ASHRAE Guideline 14 calibration criterion (2002 ed. clause 5.3.2.4 f: NMBE 5 % / CV(RMSE) 15 % "
    "against monthly data, 10 % / 30 % against hourly data), applied to out-of-sample predictions"
)
G14_UNCERTAINTY = (
    "ASHRAE Guideline 14-2014 whole-building performance path: uncertainty < 50 % of savings at 68 %"
)
NO_SOURCE_DAILY = "no published limit for daily models (Guideline 14 sets monthly and hourly limits only)"
DOF_RULE = "degrees of freedom: more points than parameters + 1"


@dataclass(frozen=True)
class ModelWarning:
    """A named problem with the model's inputs (`code` is stable, `message` is for people)."""

    code: str
    message: str


@dataclass(frozen=True)
class VerdictCheck:
    """One statistic judged against its source's limit (None: no source sets one)."""

    statistic: str
    value: float
    limit: float | None
    comparison: Literal["<=", "abs<=", "<", ">"]
    source: str
    outcome: Outcome

    def describe(self) -> str:
        if self.limit is None:
            return f"{self.statistic} {self.value:.4g}: no published limit"
        sign = "|x| <=" if self.comparison == "abs<=" else self.comparison
        return f"{self.statistic} {self.value:.4g} ({sign} {self.limit:.4g}): {self.outcome}"


@dataclass(frozen=True)
class Verdict:
    """Every check of one baseline (and, once savings are known, their uncertainty)."""

    granularity: Granularity
    checks: tuple[VerdictCheck, ...]
    warnings: tuple[ModelWarning, ...] = ()
    degraded: bool = False

    @property
    def failed(self) -> tuple[VerdictCheck, ...]:
        return tuple(c for c in self.checks if c.outcome == "fail")

    @property
    def passed(self) -> bool:
        """No check failed and no configured driver is missing (no_limit checks do not count)."""
        return not self.failed and not self.degraded

    @property
    def status(self) -> Literal["verified", "not verified"]:
        return "verified" if self.passed else "not verified"

    def check(self, statistic: str) -> VerdictCheck:
        for c in self.checks:
            if c.statistic == statistic:
                return c
        raise KeyError(f"verdict has no check {statistic!r}")

    def summary(self) -> str:
        """One line: what failed, or that nothing did (and which statistics have no limit)."""
        if self.passed:
            unlimited = [c.statistic for c in self.checks if c.outcome == "no_limit"]
            tail = f"; no published limit for {', '.join(unlimited)}" if unlimited else ""
            return f"savings verified ({self.granularity} model){tail}"
        reasons = [c.describe() for c in self.failed]
        if self.degraded:
            reasons += [w.message for w in self.warnings if w.code.startswith("driver_")]
        return "savings not verified: " + "; ".join(reasons)

    def with_check(self, extra: VerdictCheck) -> Verdict:
        kept = tuple(c for c in self.checks if c.statistic != extra.statistic)
        return replace(self, checks=(*kept, extra))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(passed=self.passed, status=self.status, summary=self.summary())
        return data


def _judge(
    statistic: str,
    value: float,
    limit: float | None,
    comparison: Literal["<=", "abs<=", "<", ">"],
    source: str,
) -> VerdictCheck:
    if limit is None:
        return VerdictCheck(statistic, value, None, comparison, source, "no_limit")
    inside = {
        "<=": value <= limit,
        "abs<=": abs(value) <= limit,
        "<": value < limit,
        ">": value > limit,
    }[comparison]
    return VerdictCheck(statistic, value, limit, comparison, source, "pass" if inside else "fail")


def cv_rmse_rule(granularity: Granularity, reporting_months: int | None) -> tuple[float | None, str]:
    """(limit, source) for a baseline's CV(RMSE); None where no source sets a limit."""
    if granularity == "hourly":
        return 0.30, G14_CALIBRATION
    if granularity == "daily":
        return None, NO_SOURCE_DAILY
    months = reporting_months if reporting_months is not None else 0
    limit = 0.20 if months < 12 else 0.25 if months <= 60 else 0.30
    return limit, f"{G14_WHOLE_BUILDING} ({months} reporting months)"


def nmbe_rule(granularity: Granularity) -> tuple[float | None, str]:
    """(limit, source) for out-of-sample NMBE; None where no source sets a limit."""
    if granularity == "hourly":
        return 0.10, G14_CALIBRATION
    if granularity == "monthly":
        return 0.05, G14_CALIBRATION
    return None, NO_SOURCE_DAILY


def fsu_check(fsu_68: float) -> VerdictCheck:
    """Guideline 14: savings uncertainty at 68 % below 50 % of the savings."""
    return _judge("fsu_68", fsu_68, 0.50, "<", G14_UNCERTAINTY)


def judge(
    granularity: Granularity,
    *,
    cv_rmse: float,
    nmbe_out_of_sample: float | None,
    n: int,
    p: int,
    reporting_months: int | None = None,
    fsu_68: float | None = None,
    warnings: Iterable[ModelWarning] = (),
) -> Verdict:
    """Judge a baseline's statistics; `nmbe_out_of_sample` None = too little data to hold any out
    (a failed check where a limit exists: an untested bias is not a verified one)."""
    cv_limit, cv_source = cv_rmse_rule(granularity, reporting_months)
    checks = [_judge("cv_rmse", cv_rmse, cv_limit, "<=", cv_source)]
    nmbe_limit, nmbe_source = nmbe_rule(granularity)
    if nmbe_out_of_sample is None:
        untested: Outcome = "no_limit" if nmbe_limit is None else "fail"
        checks.append(
            VerdictCheck("nmbe_out_of_sample", float("nan"), nmbe_limit, "abs<=", nmbe_source, untested)
        )
    else:
        checks.append(_judge("nmbe_out_of_sample", nmbe_out_of_sample, nmbe_limit, "abs<=", nmbe_source))
    checks.append(_judge("points", float(n), float(p + 1), ">", DOF_RULE))
    if fsu_68 is not None:
        checks.append(fsu_check(fsu_68))
    named = tuple(warnings)
    degraded = any(w.code.startswith("driver_") for w in named)
    return Verdict(granularity, tuple(checks), named, degraded)
