"""The statistics of a comparison, on plain lists of numbers (one value per trial): summaries over seeds, Student-t
confidence intervals, Welch's t-test between two groups and Holm's correction for testing every pair.

The formulas are in docs/science.md ("Comparing losses over seeds"). Student-t quantiles and tail probabilities come
from SciPy (``scipy.stats.t``); everything else is written out here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

CONFIDENCE = 0.95  # the confidence level of every interval
ALPHA = 0.05  # the family-wise error rate of the pairwise tests (after Holm's correction)


@dataclass(frozen=True)
class Summary:
    """``n`` values: mean, sample standard deviation (n - 1 in the denominator), and the Student-t interval.

    With ``n == 1`` there is no spread and no interval: ``std``, ``ci_low``, ``ci_high`` and ``t_critical`` are
    None (a single seed says nothing about the next one).
    """

    n: int
    mean: float
    std: float | None
    ci_low: float | None
    ci_high: float | None
    t_critical: float | None  # t_{(1 + confidence) / 2, n - 1}
    confidence: float = CONFIDENCE

    @property
    def half_width(self) -> float | None:
        return None if self.ci_high is None else self.ci_high - self.mean


@dataclass(frozen=True)
class Welch:
    """Welch's unequal-variance t-test of two groups: the statistic, its Welch-Satterthwaite degrees of freedom and
    the two-sided p-value. ``p`` is None when either group has fewer than two values (nothing to test with)."""

    t: float | None
    dof: float | None
    p: float | None


def t_quantile(probability: float, dof: float) -> float:
    """The Student-t quantile: ``P(T <= q) = probability`` for ``dof`` degrees of freedom."""
    from scipy.stats import t

    return float(t.ppf(probability, dof))


def t_two_sided_p(statistic: float, dof: float) -> float:
    """``P(|T| >= |statistic|)`` for ``dof`` degrees of freedom."""
    from scipy.stats import t

    return float(min(1.0, 2.0 * t.sf(abs(statistic), dof)))


def _finite(values: Sequence[float]) -> list[float]:
    out = [float(v) for v in values]
    if not out:
        raise ValueError("no values to summarise")
    if not all(math.isfinite(v) for v in out):
        raise ValueError(f"values must be finite numbers, got {out}")
    return out


def mean(values: Sequence[float]) -> float:
    values = _finite(values)
    return math.fsum(values) / len(values)


def sample_std(values: Sequence[float]) -> float | None:
    """The sample standard deviation ``sqrt(sum (x - mean)^2 / (n - 1))``; None for a single value."""
    values = _finite(values)
    if len(values) < 2:
        return None
    m = mean(values)
    return math.sqrt(math.fsum((v - m) ** 2 for v in values) / (len(values) - 1))


def summarize(values: Sequence[float], confidence: float = CONFIDENCE) -> Summary:
    """Mean, standard deviation and the ``confidence`` interval ``mean +- t_{(1+c)/2, n-1} * std / sqrt(n)``."""
    values = _finite(values)
    n, m, s = len(values), mean(values), sample_std(values)
    if s is None:
        return Summary(n, m, None, None, None, None, confidence)
    t_critical = t_quantile((1.0 + confidence) / 2.0, n - 1)
    half = t_critical * s / math.sqrt(n)
    return Summary(n, m, s, m - half, m + half, t_critical, confidence)


def welch(a: Sequence[float], b: Sequence[float]) -> Welch:
    """Welch's t-test of ``mean(a) == mean(b)`` (two-sided), not assuming equal variances.

    ``t = (mean_a - mean_b) / sqrt(s_a^2/n_a + s_b^2/n_b)``, dof by Welch-Satterthwaite. Two groups without any
    spread are different exactly when their means differ (p 0 or 1).
    """
    a, b = _finite(a), _finite(b)
    if len(a) < 2 or len(b) < 2:
        return Welch(None, None, None)
    va, vb = sample_std(a) ** 2 / len(a), sample_std(b) ** 2 / len(b)  # type: ignore[operator]
    diff = mean(a) - mean(b)
    if va + vb == 0.0:
        return Welch(None, None, 1.0 if diff == 0.0 else 0.0)
    statistic = diff / math.sqrt(va + vb)
    dof = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    return Welch(statistic, dof, t_two_sided_p(statistic, dof))


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm-Bonferroni adjusted p-values (None stays None and does not count as a test).

    Sorted ascending, the i-th of m p-values (i from 1) becomes ``max_{j <= i} min(1, (m - j + 1) p_(j))``; rejecting
    where the adjusted value is below alpha keeps the chance of any false "different" at most alpha over all pairs.
    """
    tested = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(tested)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(tested):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def best_and_median(values: Sequence[float], higher_is_better: bool) -> tuple[int, int]:
    """Indices of the best value and of the median one (for an even count, the worse of the two middle values: a
    trial that exists, never an average)."""
    values = _finite(values)
    order = sorted(range(len(values)), key=lambda i: (-values[i] if higher_is_better else values[i], i))
    return order[0], order[len(order) // 2]
