"""Toy-data metrics: mode coverage (the standard 3-sigma protocol) and exact W1 (POT's optimal-transport LP).

Each expectation is exact or follows from the definition: true samples of a 2-D Gaussian lie within 3 sigma with
probability 1 - exp(-4.5) = 98.9 %, and W1 between a point set and its copy shifted by theta is |theta| (the mean
difference is a lower bound for W1, and the shift plan attains it).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganzoo.errors import ConfigError, GanzooError
from ganzoo.plugin.data import POINTS, TensorData
from ganzoo.plugin.loading import get_registry
from ganzoo.plugin.metric import Metric
from ganzoo.plugin.points import exact_w1, mode_statistics

METRICS = [spec for spec in get_registry().entries("metric") if POINTS in spec.data_kinds]


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def dataset(name: str, **options: object):  # noqa: ANN201 - a RealData
    spec = get_registry().dataset(name)
    return spec.factory(**{**spec.options, **options})


def metric(name: str, **options: object) -> Metric:
    spec = get_registry().metric(name)
    return spec.factory(**{**spec.options, **options})


# --- every registered point metric ----------------------------------------------------------------------------


@pytest.mark.parametrize("spec", METRICS, ids=[s.name for s in METRICS])
def test_point_metric_contract(spec) -> None:  # noqa: ANN001
    m = spec.factory(**spec.options)
    assert isinstance(m, Metric)
    real = dataset("gaussians8")
    fake = real.sample(500, gen(1))
    first = m.compute(fake, real, gen(2))
    assert spec.description and m.headline in first
    assert all(isinstance(v, float) and math.isfinite(v) for v in first.values())
    assert first == m.compute(fake, real, gen(2)), "deterministic given the generator"


# --- modes ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "k"), [("gaussians8", 8), ("gaussians25", 25)])
def test_true_samples_capture_every_mode(name: str, k: int) -> None:
    real = dataset(name)
    result = metric("modes").compute(real.sample(2500, gen(0)), real, gen(1))
    assert result["modes"] == k
    assert result["hq_percent"] >= 98.0
    assert 0.0 <= result["reverse_kl"] < 0.02
    assert metric("modes").headline == "modes" and metric("modes").higher_is_better


def test_samples_from_one_mode_capture_one() -> None:
    real = dataset("gaussians8")
    centres = real.modes
    one = centres[3] + real.mode_std * torch.randn(1000, 2, generator=gen(0))
    result = mode_statistics(one, centres, real.mode_std)
    assert result["modes"] == 1
    assert result["reverse_kl"] == pytest.approx(math.log(8))
    assert result["hq_percent"] > 97


def test_mode_statistics_by_hand() -> None:
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    samples = torch.tensor([[0.1, 0.0], [0.0, 0.2], [10.0, 0.25], [5.0, 5.0], [10.0, 10.4]])
    result = mode_statistics(samples, centres, std=0.1, sigmas=3.0)  # HQ: within 0.3
    assert result["modes"] == 2  # [10, 10.4] is 0.4 away: not HQ
    assert result["hq_percent"] == pytest.approx(60.0)
    p = np.array([2 / 3, 1 / 3])  # HQ histogram over the 4 modes: 2, 1, 0, 0
    assert result["reverse_kl"] == pytest.approx(float((p * np.log(4 * p)).sum()))
    looser = mode_statistics(samples, centres, std=0.1, sigmas=5.0)
    assert looser["modes"] == 3 and looser["hq_percent"] == pytest.approx(80.0)


def test_no_hq_samples_reports_worst_reverse_kl() -> None:
    real = dataset("gaussians25")
    far = torch.full((100, 2), 100.0)
    result = mode_statistics(far, real.modes, real.mode_std)
    assert result == {"modes": 0.0, "hq_percent": 0.0, "reverse_kl": pytest.approx(math.log(25))}


def test_evenly_spread_hq_samples_have_zero_reverse_kl() -> None:
    real = dataset("gaussians8")
    result = mode_statistics(real.modes.repeat(5, 1), real.modes, real.mode_std)
    assert result["modes"] == 8 and result["hq_percent"] == 100.0
    assert result["reverse_kl"] == pytest.approx(0.0, abs=1e-12)


def test_modes_on_a_set_without_modes_is_a_clear_error() -> None:
    real = dataset("swissroll")
    with pytest.raises(GanzooError, match="gaussians8, gaussians25"):
        metric("modes").compute(real.sample(100, gen()), real, gen())


def test_bad_metric_options_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        metric("modes", sigmas=0)
    with pytest.raises(ConfigError):
        metric("w1", n=0)
    with pytest.raises(ConfigError):
        metric("w1", n=2.5)


# --- w1 ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("theta", [0.37, -1.25, 3.0])
def test_w1_of_a_shifted_copy_is_the_shift(theta: float) -> None:
    x = torch.randn(400, 2, generator=gen(3), dtype=torch.float64)
    shifted = x + torch.tensor([theta, 0.0], dtype=torch.float64)
    assert abs(exact_w1(x, shifted) - abs(theta)) < 1e-6
    # through the metric: a TensorData of the shifted set, sampled whole (a permutation of all 400 points)
    real = TensorData("shifted", shifted, kind=POINTS)
    assert abs(metric("w1").compute(x, real, gen())["w1"] - abs(theta)) < 1e-6


def test_w1_of_a_set_with_itself_is_zero() -> None:
    x = torch.randn(300, 2, generator=gen(4), dtype=torch.float64)
    assert exact_w1(x, x) == pytest.approx(0.0, abs=1e-12)
    assert exact_w1(x, x[torch.randperm(300, generator=gen(5))]) == pytest.approx(0.0, abs=1e-12)
    # through the metric the real side comes from RealData.sample, which yields float32: zero to float32 rounding
    assert metric("w1").compute(x, TensorData("same", x, kind=POINTS), gen())["w1"] < 1e-6


def test_w1_in_one_dimension_matches_sorted_matching() -> None:
    x = torch.rand(250, 1, generator=gen(6), dtype=torch.float64)
    y = torch.rand(250, 1, generator=gen(7), dtype=torch.float64) * 2
    expected = (x.flatten().sort().values - y.flatten().sort().values).abs().mean().item()
    assert exact_w1(x, y) == pytest.approx(expected, abs=1e-9)


def test_w1_metric_uses_at_most_n_samples_and_is_lower_for_better_fakes() -> None:
    real = dataset("gaussians8")
    m = metric("w1", n=300)
    assert m.headline == "w1" and not m.higher_is_better
    good = real.sample(1000, gen(1))
    collapsed = real.modes[0] + 0.02 * torch.randn(1000, 2, generator=gen(2))
    assert m.compute(good, real, gen(3))["w1"] < 0.2 < m.compute(collapsed, real, gen(3))["w1"]
    assert m.compute(good, real, gen(3)) == metric("w1", n=300).compute(good[:300], real, gen(3))


@pytest.mark.parametrize("theta", [0.5, -2.0, 1e-3])
def test_w1_of_the_seeds_example_is_theta(theta: float) -> None:
    """docs/science.md's teaching example: P_0 = (0, Z), P_theta = (theta, Z), Z ~ U[0, 1] have W1 = |theta| (where JS,
    KL and TV jump): 2,500 samples of P_0 against the same samples moved to P_theta, as `ganzoo eval` does."""
    z = torch.rand(2500, generator=gen(8), dtype=torch.float64)
    p0 = torch.stack([torch.zeros_like(z), z], dim=1)
    p_theta = torch.stack([torch.full_like(z, theta), z], dim=1)
    assert abs(exact_w1(p0, p_theta) - abs(theta)) < 1e-6
