"""Conformance of a metric plugin: deterministic, finite, and right on a case whose answer is known.

The known case works for any metric: "perfect" fakes are real samples drawn with the same seeded generator that is
passed to ``compute`` (a metric that compares against fresh real samples drawn with that generator sees the very
same set, so a distance is 0); "collapsed" fakes are one point far outside the data. A metric must score perfect
fakes strictly better than collapsed ones on its headline value. A plugin author who knows exact values for the
perfect case passes them as ``known`` (e.g. ``{"w1": 0.0}``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from ganzoo.plugin.data import IMAGES, POINTS, RealData
from ganzoo.plugin.loading import get_registry
from ganzoo.plugin.metric import Metric
from ganzoo.plugin.specs import MetricSpec
from ganzoo.testing.support import check, cpu_generator, fail, validate_spec

N = 256


def default_data(kind: str) -> RealData:
    """Real data of ``kind`` that is always available offline: gaussians8 for points, 28x28 digits for images."""
    if kind == POINTS:
        return get_registry().dataset("gaussians8").build()
    if kind == IMAGES:
        return get_registry().dataset("digits").build(size=28)
    raise AssertionError(f"no default data for data kind {kind!r}\n  fix: pass data= to check_metric")


def collapsed_like(real: Tensor, kind: str) -> Tensor:
    """Every fake the same, far from the data: a white image, or a point 10 data-widths beyond the data."""
    if kind == IMAGES:
        return torch.ones_like(real)
    spread = (real.max(0).values - real.min(0).values).clamp_min(1.0)
    return (real.max(0).values + 10 * spread).expand_as(real).clone()


def check_metric(spec: MetricSpec, *, data: RealData | None = None, options: Mapping[str, Any] | None = None,
                 n: int = N, known: Mapping[str, float] | None = None, tolerance: float = 1e-6,
                 seed: int = 0) -> None:
    """Assert that ``spec`` is a metric ganzoo can report; raises AssertionError naming the first problem.

    For each data kind it declares (on ``data`` if given, else :func:`default_data`): ``compute`` returns a dict of
    finite floats that holds the ``headline`` key; the same inputs and seed give the same values; perfect fakes score
    strictly better than collapsed fakes on the headline (in the direction of ``higher_is_better``); and the perfect
    case matches ``known`` within ``tolerance``.
    """
    owner = validate_spec(spec, MetricSpec)
    check(bool(spec.data_kinds) and set(spec.data_kinds) <= {IMAGES, POINTS}, owner,
          f"data_kinds must name {IMAGES!r} and/or {POINTS!r}, got {spec.data_kinds!r}",
          "declare data_kinds=('images',) and/or ('points',)")
    chosen = {**spec.options, **(options or {})}
    try:
        metric = spec.factory(**chosen)
    except Exception as exc:  # the finding
        fail(owner, f"factory(**{chosen!r}) raised {exc!r}", "accept every declared option with its default")
    check(isinstance(metric, Metric), owner, f"factory returned {type(metric).__name__}, not a ganzoo.Metric",
          "subclass ganzoo.Metric and return an instance from the factory")
    check(isinstance(getattr(metric, "headline", None), str), owner, "the metric must name its headline value",
          "set headline = 'name-of-your-main-value' on the Metric class")
    check(isinstance(metric.higher_is_better, bool), owner, "higher_is_better must be a bool",
          "set higher_is_better = True or False on the Metric class")
    if data is not None:
        check(data.kind in spec.data_kinds, owner, f"data= is {data.kind!r} data, not one of {spec.data_kinds}",
              "pass data= of a kind the metric declares in data_kinds")
    kinds = [data.kind] if data is not None else list(spec.data_kinds)
    for kind in kinds:
        real = data if data is not None else default_data(kind)
        where = f"{owner} on {getattr(real, 'name', kind)}"
        perfect = real.sample(n, cpu_generator(seed))
        first = _compute(metric, perfect, real, seed, where)
        check(_compute(metric, perfect, real, seed, where) == first, where,
              "two calls with the same fakes and the same generator seed give different values",
              "draw randomness only from the generator passed to compute()")
        collapsed = _compute(metric, collapsed_like(perfect, real.kind), real, seed, where)
        good, bad = first[metric.headline], collapsed[metric.headline]
        better = good > bad if metric.higher_is_better else good < bad
        check(better, where, f"real samples score {metric.headline}={good:.6g}, not better than {bad:.6g} for "
              f"fakes collapsed to one far point (higher_is_better={metric.higher_is_better})",
              "check the formula's direction and higher_is_better")
        for key, expected in (known or {}).items():
            check(key in first and math.isclose(first[key], expected, rel_tol=tolerance, abs_tol=tolerance), where,
                  f"on real samples {key}={first.get(key)!r}, expected {expected} (within {tolerance:g})",
                  "check the formula on real samples, or the known= values passed to check_metric")


def _compute(metric: Metric, fake: Tensor, real: RealData, seed: int, where: str) -> dict[str, float]:
    try:
        values = metric.compute(fake, real, cpu_generator(seed))
    except Exception as exc:  # the finding
        fail(where, f"compute() raised {exc!r}",
             "compute(fake, real, generator) must accept [N, *real.shape] fakes on any device")
    check(isinstance(values, dict) and metric.headline in values, where,
          f"compute() must return a dict holding the headline {metric.headline!r}, got {values!r}",
          "return {headline: float(value), ...} from compute()")
    for key, value in values.items():
        check(isinstance(key, str) and isinstance(value, float) and math.isfinite(value), where,
              f"compute() value {key}={value!r} is not a finite float", "return float(...) for every value")
    return values
