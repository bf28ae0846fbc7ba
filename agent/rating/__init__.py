"""Green-factory rating: rubric -> indicator scores -> dimension scores -> total -> grade -> data package.

Pure except `agent.rating.files` (load a rubric / site rating file, write a package). No asyncio.
"""

from agent.rating.curve import curve_points, value_for_points
from agent.rating.files import (
    SiteRating,
    default_rubric_path,
    load_rubric,
    load_site_rating,
    write_package,
)
from agent.rating.improve import Improvement
from agent.rating.package import RatingResult, build_package, package_csv, package_json, rate
from agent.rating.period import RatingPeriod, parse_period
from agent.rating.rubric import Direction, Indicator, Rubric, ValueSource
from agent.rating.score import GradeResult, IndicatorScore, grade_for
from agent.rating.values import (
    DeclaredIndicators,
    FactorLike,
    IndicatorValue,
    MeasuredIndicators,
    declared,
    measured,
)

__all__ = [
    "DeclaredIndicators",
    "Direction",
    "FactorLike",
    "GradeResult",
    "Improvement",
    "Indicator",
    "IndicatorScore",
    "IndicatorValue",
    "MeasuredIndicators",
    "RatingPeriod",
    "RatingResult",
    "Rubric",
    "SiteRating",
    "ValueSource",
    "build_package",
    "curve_points",
    "declared",
    "default_rubric_path",
    "grade_for",
    "load_rubric",
    "load_site_rating",
    "measured",
    "package_csv",
    "package_json",
    "parse_period",
    "rate",
    "value_for_points",
    "write_package",
]
