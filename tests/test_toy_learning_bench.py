"""benchmarks/toy_learning.py: each toy set is scored by the metric it supports, and the verdict "toy >= paper"
compares like with like (modes and HQ on the Gaussian sets, W1 on the Swiss roll); a tiny run end to end."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pytest
from bench_support import load_script


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    yield from load_script("toy_learning")


def result(bench, dataset: str, setting: str, seed: int, **last: float) -> dict:
    return {"loss": "wgan-gp", "dataset": dataset, "setting": setting, "seed": seed, "optimizer": "adam",
            "betas": (0.0, 0.9), "lr": 1e-3, "lr_schedule": "linear", "batch_size": 256, "latent_dim": 2,
            "n_critic": 5, "evaluations": [{"step": 10, "time_s": 1.0, **last}]}


def test_each_toy_set_is_scored_by_the_metric_it_supports(bench):
    assert bench.metric_name("gaussians8") == bench.metric_name("gaussians25") == "modes"
    assert bench.metric_name("swissroll") == "w1"
    assert bench.describe_scores({"modes": 8.0, "hq_percent": 56.84}) == "8 modes, 56.8 % HQ"
    assert bench.describe_scores({"w1": 0.8123}) == "W1 0.812"


@pytest.mark.parametrize(("toy_w1", "verdict"), [(0.5, "yes"), (1.5, "**no**")])
def test_on_the_swiss_roll_the_toy_setting_must_not_raise_w1(bench, toy_w1, verdict):
    rows = [result(bench, "swissroll", "toy", s, w1=toy_w1) for s in (0, 1)]
    rows += [result(bench, "swissroll", "paper", s, w1=1.0) for s in (0, 1)]
    table = bench.comparison_table(rows)
    toy_row = next(line for line in table.splitlines() if "| toy |" in line)
    assert "| W1 |" in table and f"{toy_w1:.3f} +- 0.000" in toy_row and toy_row.endswith(f"| {verdict} |")


def test_on_a_gaussian_set_the_toy_setting_needs_as_many_modes_and_hq(bench):
    rows = [result(bench, "gaussians25", "toy", 0, modes=20.0, hq_percent=5.0, reverse_kl=0.3),
            result(bench, "gaussians25", "paper", 0, modes=19.0, hq_percent=6.0, reverse_kl=0.4)]
    table = bench.comparison_table(rows)
    assert "modes (of 25)" in table
    assert next(line for line in table.splitlines() if "| toy |" in line).endswith("| **no** |")  # less HQ


def test_a_tiny_swiss_roll_comparison_runs_end_to_end(bench, capsys):
    assert bench.main(["--dataset", "swissroll", "--seeds", "0", "--steps", "4", "--every", "2",
                       "--setting", "toy", "paper"]) == 0
    out = capsys.readouterr().out
    assert "on swissroll, 4 steps" in out and "| W1 | toy >= paper |" in out
