"""Small statistics the M&V formulas need, without SciPy: Student's t distribution and OLS.

The t distribution uses the regularised incomplete beta function (continued fraction, as in
Numerical Recipes 6.4); quantiles are found by bisection, which is plenty for M&V confidence levels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["OlsFit", "lag1_autocorrelation", "ols", "t_cdf", "t_two_sided"]


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-14:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_continued_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_continued_fraction(b, a, 1.0 - x) / b


def t_cdf(t: float, dof: float) -> float:
    """P(T <= t) for Student's t with `dof` degrees of freedom."""
    tail = 0.5 * _betainc(dof / 2.0, 0.5, dof / (dof + t * t))
    return 1.0 - tail if t > 0 else tail


def t_two_sided(confidence: float, dof: float) -> float:
    """t value with `confidence` probability between -t and +t (e.g. 0.68 -> ~1.0 for large dof)."""
    if not 0.0 < confidence < 1.0 or dof <= 0:
        raise ValueError(f"t_two_sided: confidence {confidence} must be in (0, 1) and dof {dof} > 0")
    target = 0.5 + confidence / 2.0
    low, high = 0.0, 1.0
    while t_cdf(high, dof) < target:
        high *= 2.0
    for _ in range(100):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if t_cdf(mid, dof) < target else (low, mid)
    return 0.5 * (low + high)


@dataclass(frozen=True)
class OlsFit:
    """Ordinary least squares result."""

    beta: np.ndarray
    std_error: np.ndarray
    fitted: np.ndarray
    residuals: np.ndarray
    sse: float

    @property
    def t_stats(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.std_error > 0, self.beta / self.std_error, np.inf)


def ols(x: np.ndarray, y: np.ndarray) -> OlsFit | None:
    """OLS of y on the columns of x; None when x is rank-deficient or leaves no degrees of freedom."""
    n, p = x.shape
    if n <= p:
        return None
    gram = x.T @ x
    if np.linalg.matrix_rank(gram) < p:
        return None
    inverse = np.linalg.inv(gram)
    beta = inverse @ (x.T @ y)
    fitted = x @ beta
    residuals = y - fitted
    sse = float(residuals @ residuals)
    variance = sse / (n - p)
    std_error = np.sqrt(np.clip(np.diag(inverse) * variance, 0.0, None))
    return OlsFit(beta=beta, std_error=std_error, fitted=fitted, residuals=residuals, sse=sse)


def lag1_autocorrelation(residuals: np.ndarray) -> float:
    """rho = sum(e_t e_(t-1)) / sum(e_t^2) (ASHRAE Guideline 14 Annex B)."""
    energy = float(residuals @ residuals)
    if energy == 0.0 or residuals.size < 2:
        return 0.0
    return float(residuals[1:] @ residuals[:-1]) / energy
