"""The sweep's spec: grids from flags and files, seeds, random search that is the same every time with an equal
budget per loss, and every kind of bad input refused (with a clear message) before any trial starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganzoo.errors import GanzooError
from ganzoo.plugin.registry import Registry
from ganzoo.sweep.check import check_sweep
from ganzoo.sweep.spec import parse_seeds, read_sweep_file, sweep_spec

TOY = {"arch": "mlp", "dataset": "gaussians8", "steps": 20}
SWEEP_FILE = """
loss = ["wgan", "wgan-gp", "ns"]
arch = "mlp"
dataset = "gaussians8"
seeds = "0-1"
steps = 40

[set]
hidden = 16

[loss_set.wgan]
clip = 0.02

[search]
method = "random"
trials = 3
seed = 7

[space]
lr = { log_uniform = [1e-5, 1e-3] }

[loss_space.wgan-gp]
lambda = { choice = [1.0, 10.0, 100.0] }
n_critic = { int_uniform = [1, 5] }
"""


@pytest.fixture
def sweep_file(tmp_path: Path) -> Path:
    path = tmp_path / "Toy Losses.toml"
    path.write_text(SWEEP_FILE)
    return path


def test_a_grid_from_flags_is_losses_x_archs_x_seeds(registry: Registry) -> None:
    spec = sweep_spec({**TOY, "loss": "minimax,ns,wgan", "seeds": "0-2"}, registry)
    trials = spec.trials()
    assert spec.losses == ("minimax", "non-saturating", "wgan")  # aliases resolved
    assert len(trials) == 9 and [t.position for t in trials] == list(range(9))
    assert [t.trial_id for t in trials[:3]] == ["minimax.mlp.s0.t0", "minimax.mlp.s1.t0", "minimax.mlp.s2.t0"]
    assert {t.seed for t in trials} == {0, 1, 2}
    assert sweep_spec({**TOY, "loss": "all"}, registry).losses == tuple(registry.names("loss"))
    assert sweep_spec({**TOY, "loss": "wgan*"}, registry).losses == ("wgan", "wgan-gp", "wgan-lp")


def test_seeds_parse_ranges_lists_and_single_seeds() -> None:
    assert parse_seeds("0-4") == (0, 1, 2, 3, 4)
    assert parse_seeds("0-2,7,1") == (0, 1, 2, 7)
    assert parse_seeds(3) == (3,) and parse_seeds([5, 6]) == (5, 6)
    for bad in ("", "a-b", [-1], "1.5"):
        with pytest.raises(GanzooError):
            parse_seeds(bad)


def test_a_sweep_file_gives_the_same_trials_every_time_with_an_equal_budget_per_loss(
        sweep_file: Path, registry: Registry) -> None:
    values = read_sweep_file(sweep_file)
    spec = sweep_spec(values, registry)
    again = sweep_spec(read_sweep_file(sweep_file), registry)
    assert spec.name == "toy-losses" and spec.sweep_id == again.sweep_id
    assert spec.trials() == again.trials()
    trials = spec.trials()
    per_loss = {loss: [t for t in trials if t.loss == loss] for loss in spec.losses}
    assert {loss: len(ts) for loss, ts in per_loss.items()} == {"wgan": 6, "wgan-gp": 6, "non-saturating": 6}
    for ts in per_loss.values():  # each drawn setting is run with every seed
        assert {(t.draw, t.seed) for t in ts} == {(d, s) for d in range(3) for s in (0, 1)}
        for draw in range(3):
            assert len({repr(t.settings) for t in ts if t.draw == draw}) == 1
    gp = per_loss["wgan-gp"][0].settings
    assert gp["hidden"] == 16 and gp["lambda"] in (1.0, 10.0, 100.0) and 1 <= gp["n_critic"] <= 5
    assert 1e-5 <= gp["lr"] <= 1e-3 and "clip" not in gp
    assert per_loss["wgan"][0].settings["clip"] == 0.02 and "lambda" not in per_loss["wgan"][0].settings
    assert len({t.settings["lr"] for t in per_loss["wgan"]}) == 3  # three different draws
    other_seed = sweep_spec({**values, "search": {"method": "random", "trials": 3, "seed": 8}}, registry)
    assert other_seed.sweep_id != spec.sweep_id and other_seed.trials() != trials
    assert len(check_sweep(spec, registry)) == 18


def test_grid_search_is_the_product_of_the_choices(registry: Registry) -> None:
    spec = sweep_spec({**TOY, "loss": "wgan-gp", "space": {"lr": {"choice": [1e-4, 1e-3]}},
                       "loss_space": {"wgan-gp": {"lambda": {"choice": [1.0, 10.0, 100.0]}}}}, registry)
    assert len(spec.trials()) == 6
    assert {(t.settings["lr"], t.settings["lambda"]) for t in spec.trials()} == {
        (lr, lam) for lr in (1e-4, 1e-3) for lam in (1.0, 10.0, 100.0)}


@pytest.mark.parametrize(("values", "words"), [
    ({**TOY, "loss": "wgan-gpp"}, ["unknown loss 'wgan-gpp'", "did you mean 'wgan-gp'"]),
    ({**TOY, "loss": "wgan", "arch": "mlpp"}, ["unknown architecture 'mlpp'", "'mlp'"]),
    ({**TOY, "loss": "wgan", "dataset": "gausians8"}, ["unknown data set 'gausians8'", "'gaussians8'"]),
    ({**TOY, "loss": "wgan", "metrics": ["w2"]}, ["unknown metric 'w2'", "'w1'"]),
    ({**TOY, "loss": "lsgan*"}, ["matches nothing"]),
    ({**TOY, "loss": "wgan", "seeds": ""}, ["empty grid"]),
    ({**TOY, "loss": ""}, ["names no loss"]),
    ({**TOY, "loss": "wgan", "sead": 1}, ["no key 'sead'", "did you mean 'seeds'"]),
    ({**TOY, "loss": "wgan", "space": {"lr": {"choice": []}}}, ["non-empty list"]),
    ({**TOY, "loss": "wgan", "space": {"lr": {"log_uniform": [1e-5, 1e-3]}}}, ["grid search takes only choice"]),
    ({**TOY, "loss": "wgan", "loss_set": {"wgan-gp": {"lambda": 1.0}}}, ["not in the sweep"]),
    ({**TOY, "loss": "wgan", "search": {"trials": 4}}, ["budget of random search"]),
])
def test_bad_specs_are_refused_with_the_reason(registry: Registry, values: dict, words: list[str]) -> None:
    with pytest.raises(GanzooError) as caught:
        check_sweep(sweep_spec(values, registry), registry)
    for word in words:
        assert word in str(caught.value)


@pytest.mark.parametrize(("values", "words"), [
    ({**TOY, "loss": "all", "set": {"lambda": 5.0}}, ["trial minimax.mlp.s0.t0", "unknown setting 'lambda'",
                                                      "[loss_set.LOSS]"]),
    ({**TOY, "loss": "wgan", "set": {"width": 32}}, ["unknown setting 'width'"]),  # a dcgan option, not mlp's
    ({**TOY, "loss": "wgan", "arch": "dcgan"}, ["trial wgan.dcgan.s0.t0", "dcgan needs images"]),
    ({**TOY, "loss": "wgan", "metrics": ["fid"]}, ["metric 'fid' scores images"]),
    ({**TOY, "loss": "wgan-gp", "loss_space": {"wgan-gp": {"clip": {"choice": [0.1]}}}}, ["unknown setting 'clip'"]),
])
def test_settings_a_trial_cannot_take_are_refused_before_any_trial(registry: Registry, values: dict,
                                                                   words: list[str]) -> None:
    spec = sweep_spec(values, registry)
    with pytest.raises(GanzooError) as caught:
        check_sweep(spec, registry)
    for word in words:
        assert word in str(caught.value)


def test_the_sweep_file_in_docs_sweeps_md_is_valid(tmp_path: Path, registry: Registry) -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "sweeps.md").read_text(encoding="utf-8")
    example = text.split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "toy.toml"
    path.write_text(example)
    spec = sweep_spec(read_sweep_file(path), registry)
    assert spec.name == "toy-losses" and spec.method == "random" and spec.budget == 4
    assert len(check_sweep(spec, registry)) == len(registry.names("loss")) * 4 * 3
