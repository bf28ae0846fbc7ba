"""When a rating is provisional, and why: the one definition the package, the CLI and the dashboard read.

A score is an estimate to be treated with care when any of these holds (each is one reason, in this
order, with a machine-readable `code`, a sentence and the indicators concerned):

* `unofficial_rubric` - the rubric is an editable default, not the official one;
* `period_incomplete` - the period has not ended yet (a running month is measured up to today);
* `low_coverage` - the site's data completeness (`data_completeness`) is below the rubric's threshold;
* `low_completeness` - an indicator's own data is below the threshold: it is scored 0, as if missing
  (a year-on-year figure from 26 days of last year must not earn full marks);
* `missing`, `unit_mismatch`, `placeholder_curve`, `source_fallback` - the indicator flags of
  `agent.rating.score`.

The package carries the list as `provisional_reasons` and `provisional = bool(reasons)`; its
warnings are the reasons' sentences.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from agent.rating.period import RatingPeriod
from agent.rating.rubric import Rubric
from agent.rating.score import IndicatorScore

__all__ = ["REASON_CODES", "ProvisionalReason", "provisional_reasons"]

REASON_CODES = (
    "unofficial_rubric",
    "period_incomplete",
    "low_coverage",
    "low_completeness",
    "missing",
    "unit_mismatch",
    "placeholder_curve",
    "source_fallback",
)
COVERAGE_INDICATOR = "data_completeness"
_PLACEHOLDER = "access/advanced values are placeholders: set them from your sector's standard"
_NOT_OFFICIAL = (
    "rubric {id} {version} is an editable default, not the official rubric: "
    "scores and grade are an estimate, not a rating decision"
)


@dataclass(frozen=True, slots=True)
class ProvisionalReason:
    code: str
    text: str
    indicators: tuple[str, ...] = ()


def provisional_reasons(
    rubric: Rubric, scores: Sequence[IndicatorScore], period: RatingPeriod, as_of: date
) -> list[ProvisionalReason]:
    """Every reason the rating of `period`, computed on local day `as_of`, is provisional."""
    reasons = []
    if not rubric.official:
        text = _NOT_OFFICIAL.format(id=rubric.id, version=rubric.version)
        reasons.append(ProvisionalReason("unofficial_rubric", text))
    if as_of < period.end:
        last = period.end - timedelta(days=1)
        reasons.append(
            ProvisionalReason(
                "period_incomplete",
                f"period {period.label} runs until {last.isoformat()}: measured up to {as_of.isoformat()}, "
                "the score can still change",
            )
        )
    threshold = rubric.completeness_threshold
    coverage = next((s for s in scores if s.indicator.id == COVERAGE_INDICATOR and s.value is not None), None)
    if coverage is not None and coverage.value is not None and coverage.value.value < threshold * 100.0:
        reasons.append(
            ProvisionalReason(
                "low_coverage",
                f"site data completeness {coverage.value.value:.1f} % is below {threshold:.0%}",
                (COVERAGE_INDICATOR,),
            )
        )
    for code, text in (
        ("low_completeness", f"data completeness below {threshold:.0%} (scored 0, as missing)"),
        ("missing", "no value (scored 0)"),
        ("unit_mismatch", "value in the wrong unit (scored 0)"),
        ("placeholder_curve", _PLACEHOLDER),
        ("source_fallback", "value taken from the other source than the rubric names"),
    ):
        ids = tuple(s.indicator.id for s in scores if code in s.flags)
        if ids:
            reasons.append(ProvisionalReason(code, f"{text}: {', '.join(ids)}", ids))
    return reasons
