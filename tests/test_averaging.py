"""Generator averaging (``--set ema=DECAY``), separate learning rates (``lr_g``, ``lr_d``) and the WGAN reference
code's critic schedule: the EMA formula on a tiny model with batch norm, the EMA in checkpoints and in a resumed run
(bit-identical), the optimisers' learning rates, and the number of critic steps per generator step."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from ganzoo.api import make_config, make_trainer, resume, train
from ganzoo.errors import ConfigError
from ganzoo.plugin.loading import get_registry
from ganzoo.runs.checkpoint import load_checkpoint
from ganzoo.train.averaging import GeneratorAverage

REGISTRY = get_registry()
TINY = {"arch.hidden": 8, "arch.layers": 1}


def trainer_for(run_dir, loss: str = "wgan-gp", **overrides):
    sets = {**TINY, **overrides.pop("sets", {})}
    config = make_config("mlp", loss, "gaussians8", sets=sets, batch_size=8, device="cpu", **overrides)
    return make_trainer(config, REGISTRY, run_dir, progress=False, echo=lambda _: None)


def test_the_average_follows_the_formula_and_averages_batch_norm_buffers():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    average = GeneratorAverage(net, 0.9)
    expected = {k: v.clone() for k, v in net.state_dict().items()}
    for step in range(1, 4):
        with torch.no_grad():
            for p in net.parameters():
                p.add_(torch.randn_like(p))
        net(torch.randn(8, 3))  # training mode: moves the running statistics
        average.update(net, step)
        for key, value in net.state_dict().items():
            if value.is_floating_point():
                expected[key] = 0.9 * expected[key] + 0.1 * value
            else:  # num_batches_tracked: copied
                expected[key] = value.clone()
    for key, value in average.module.state_dict().items():
        torch.testing.assert_close(value, expected[key], rtol=1e-6, atol=1e-6, msg=key)
    assert int(average.module[1].num_batches_tracked) == 3
    assert not any(p.requires_grad for p in average.module.parameters()) and not average.module.training


def test_before_its_start_the_average_copies_the_raw_generator():
    net = nn.Linear(2, 2)
    average = GeneratorAverage(net, 0.999, start=2)
    with torch.no_grad():
        net.weight.fill_(1.0)
    average.update(net, 2)
    assert torch.equal(average.module.weight, net.weight)
    with torch.no_grad():
        net.weight.fill_(2.0)
    average.update(net, 3)
    torch.testing.assert_close(average.module.weight, torch.full((2, 2), 1.001))


def test_the_average_is_kept_in_checkpoints_and_a_resumed_run_ends_bit_identical(tmp_path):
    options = {"sets": {**TINY, "ema": 0.9, "lr_schedule": "constant"}, "batch_size": 8, "device": "cpu",
               "register": False, "progress": False, "echo": lambda _: None}
    train("mlp", "wgan-gp", "gaussians8", out=tmp_path / "straight", steps=4, **options)
    train("mlp", "wgan-gp", "gaussians8", out=tmp_path / "resumed", steps=2, **options)
    resume(tmp_path / "resumed", steps=4, progress=False, echo=lambda _: None)
    (_, straight), (_, resumed) = (load_checkpoint(tmp_path / run / "checkpoints") for run in ("straight", "resumed"))
    for key in ("generator", "generator_ema"):
        assert straight[key].keys() == resumed[key].keys()
        assert all(torch.equal(straight[key][k], resumed[key][k]) for k in straight[key]), key
    assert any(not torch.equal(straight["generator"][k], v) for k, v in straight["generator_ema"].items())


def test_without_ema_there_is_no_average_and_the_checkpoint_is_as_before(tmp_path):
    trainer = trainer_for(tmp_path, steps=1)
    assert trainer.ema is None and "generator_ema" not in trainer.state_dict()


def test_separate_learning_rates_reach_the_optimisers(tmp_path):
    trainer = trainer_for(tmp_path, steps=1, lr_g=1e-4, lr_d=4e-4)
    assert [g["lr"] for g in trainer.opt_g.param_groups] == [1e-4]
    assert [g["lr"] for g in trainer.opt_d.param_groups] == [4e-4]
    assert trainer.config.sources["lr_d"] == "command line"
    both = trainer_for(tmp_path / "both", steps=1, lr=3e-4)
    assert both.opt_g.param_groups[0]["lr"] == both.opt_d.param_groups[0]["lr"] == 3e-4  # lr_g, lr_d follow lr


@pytest.mark.parametrize(("sets", "word"), [({"ema": 1.0}, "ema"), ({"ema": -0.1}, "ema"), ({"lr_g": 2.0}, "lr_g"),
                                            ({"critic_schedule": "fast"}, "critic_schedule")])
def test_bad_values_are_clear_errors(sets, word):
    with pytest.raises(ConfigError, match=word):
        make_config("mlp", "wgan", "gaussians8", sets=sets)


def test_the_wgan_reference_critic_schedule():
    config = make_config("mlp", "wgan", "gaussians8", sets={"critic_schedule": "wgan-reference"})
    counts = [config.critic_steps(step) for step in range(1001)]
    assert counts[:25] == [100] * 25 and counts[25:30] == [5] * 5
    assert {i for i, n in enumerate(counts) if n == 100} == {*range(25), 500, 1000}
    assert make_config("mlp", "wgan", "gaussians8").critic_steps(0) == 5  # off by default: Algorithm 1


def test_the_trainer_follows_the_schedule(tmp_path):
    trainer = trainer_for(tmp_path, "wgan", steps=2, sets={"critic_schedule": "wgan-reference"})
    calls = []
    original = trainer._critic_step
    trainer._critic_step = lambda: calls.append(trainer.step) or original()
    trainer.train_step()
    trainer.train_step()
    assert calls.count(0) == 100 and calls.count(1) == 100


@pytest.fixture(scope="module")
def averaged_model(tmp_path_factory):
    """A tiny mlp + wgan-gp model on gaussians8 trained with --set ema=0.9 and stored as "avg"."""
    home = tmp_path_factory.mktemp("home")
    run = tmp_path_factory.mktemp("run") / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GANZOO_HOME", str(home))
        train("mlp", "wgan-gp", "gaussians8", out=run, steps=3, sets={**TINY, "ema": 0.9}, batch_size=8,
              device="cpu", name="avg", progress=False, echo=lambda _: None)
    _, state = load_checkpoint(run / "checkpoints")
    return home, state


def test_the_store_keeps_both_generators_and_uses_the_average_unless_raw(averaged_model, monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from ganzoo.api import evaluate_model
    from ganzoo.cli import app
    from ganzoo.store import GENERATOR_EMA_FILE, ModelStore, load_generator

    home, state = averaged_model
    monkeypatch.setenv("GANZOO_HOME", str(home))
    store = ModelStore()
    record = store.get("avg")
    assert {GENERATOR_EMA_FILE, "generator.safetensors"} <= set(store.files(record))
    averaged, raw = load_generator("avg"), load_generator("avg", raw=True)
    assert (averaged.weights, raw.weights) == ("ema", "raw") and "EMA 0.9" in averaged.description
    for loaded, key in ((averaged, "generator_ema"), (raw, "generator")):
        assert all(torch.equal(v, state[key][k]) for k, v in loaded.net.state_dict().items())

    out = tmp_path / "s.npz"
    said = CliRunner().invoke(app, ["sample", "avg", "--n", "8", "--out", str(out)])
    assert said.exit_code == 0 and "averaged generator (EMA 0.9)" in said.output, said.output
    assert torch.equal(torch.from_numpy(np.load(out)["samples"]), averaged.sample(8, seed=0))

    scored = evaluate_model("avg", ["w1"], n=200).results + evaluate_model("avg", ["w1"], n=200, raw=True).results
    assert [r["generator"] for r in scored] == ["ema", "raw"] and scored[0]["value"] != scored[1]["value"]
    kept = ModelStore().get("avg").metrics
    assert sorted(r["generator"] for r in kept) == ["ema", "raw"]  # a re-measurement of one never replaces the other
    card = CliRunner().invoke(app, ["models", "card", "avg"]).output
    assert "| generator |" in card and " averaged |" in card and " raw |" in card and "decay 0.9" in card
    assert "| ema | 0.9 | --set |" in card
    shown = CliRunner().invoke(app, ["eval", "avg", "-m", "w1", "--n", "200", "--raw", "--no-save"])
    assert shown.exit_code == 0 and "raw generator" in shown.output, shown.output
