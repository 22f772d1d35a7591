"""Generator averaging (``--set ema=DECAY``), separate learning rates (``lr_g``, ``lr_d``) and the WGAN reference
code's critic schedule: the EMA formula on a tiny model with batch norm, the averaged generator's batch-norm
statistics (recomputed for its weights by default, ``ema_bn=average`` averages them), the EMA in checkpoints, in a
resumed run (bit-identical) and in the store (a model stored before ``ema_bn`` still loads as it was), the
optimisers' learning rates, and the number of critic steps per generator step."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.optim.swa_utils import update_bn

from ganzoo.api import make_config, make_trainer, resume, train
from ganzoo.errors import ConfigError
from ganzoo.plugin.loading import get_registry
from ganzoo.runs.checkpoint import load_checkpoint
from ganzoo.train.averaging import STANDING_BATCHES, STANDING_SEED, GeneratorAverage, recompute_statistics

REGISTRY = get_registry()
TINY = {"arch.hidden": 8, "arch.layers": 1}
#: dcgan's generator has batch norm (mlp's has none): the smallest image run, on the bundled digits.
TINY_DCGAN = {"arch.width": 8, "latent_dim": 8}
LEGACY = Path(__file__).parent / "fixtures" / "store-ema-average"
QUIET = {"progress": False, "echo": lambda _: None}


def trainer_for(run_dir, loss: str = "wgan-gp", **overrides):
    sets = {**TINY, **overrides.pop("sets", {})}
    config = make_config("mlp", loss, "gaussians8", sets=sets, batch_size=8, device="cpu", **overrides)
    return make_trainer(config, REGISTRY, run_dir, progress=False, echo=lambda _: None)


def test_the_average_follows_the_formula_and_with_ema_bn_average_averages_batch_norm_buffers():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    average = GeneratorAverage(net, 0.9, bn="average")
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
    assert average.averaged() is average.module  # handed out as averaged: nothing recomputed


def _trained_pair(bn: str = "recompute") -> tuple[nn.Module, GeneratorAverage]:
    """A small generator with batch norm (1-D and 2-D, one without affine parameters) moved for three steps, and its
    average with decay 0.9."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Unflatten(1, (2, 2, 2)),
                        nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3, affine=False, momentum=0.3))
    average = GeneratorAverage(net, 0.9, bn=bn, batch_size=16, latent_dim=3)
    for step in range(1, 4):
        with torch.no_grad():
            for p in net.parameters():
                p.add_(torch.randn_like(p))
        net(torch.randn(16, 3))  # training mode: moves the raw running statistics
        average.update(net, step)
    return net, average


def _statistics(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v for k, v in module.state_dict().items() if "running" in k or "num_batches" in k}


def test_recomputed_statistics_are_those_of_the_averaged_weights_not_averaged_ones():
    _, recomputed = _trained_pair()
    _, averaged = _trained_pair("average")
    params = {k: v.clone() for k, v in recomputed.module.named_parameters()}
    torch.testing.assert_close(params, dict(averaged.module.named_parameters()), rtol=0, atol=0)  # same weights
    got = _statistics(recomputed.averaged())
    # a direct computation: torch's SWA batch-norm update (momentum=None) over the same noise on the same weights
    direct = GeneratorAverage(recomputed.module, 0.9, bn="average").module
    noise = torch.Generator().manual_seed(STANDING_SEED)
    update_bn([torch.randn(16, 3, generator=noise) for _ in range(STANDING_BATCHES)], direct)
    for key, value in _statistics(direct).items():
        assert torch.equal(got[key], value), key
        assert not torch.equal(got[key], _statistics(averaged.module)[key]), key  # not the averaged buffers
    assert int(got["1.num_batches_tracked"]) == STANDING_BATCHES
    module = recomputed.module  # unchanged but for the statistics; eval mode, momenta, no gradients kept
    assert all(torch.equal(p, params[k]) for k, p in module.named_parameters())
    assert not any(m.training for m in module.modules()) and (module[1].momentum, module[5].momentum) == (0.1, 0.3)
    assert not any(p.requires_grad or p.grad is not None for p in module.parameters())


def test_recomputed_statistics_are_deterministic_and_follow_the_weights_only():
    net, first = _trained_pair()
    _, second = _trained_pair()
    state = {k: v.clone() for k, v in first.state_dict().items()}
    assert all(torch.equal(v, second.state_dict()[k]) for k, v in state.items())  # the same bytes twice
    scrambled = {k: (v + 7 if v.is_floating_point() and "running" in k else v) for k, v in state.items()}
    first.load_state_dict(scrambled)  # e.g. a resumed checkpoint, or one written with averaged statistics
    assert all(torch.equal(v, first.state_dict()[k]) for k, v in state.items())
    global_rng = torch.get_rng_state()
    recompute_statistics(first.module, 16, 3)
    assert torch.equal(torch.get_rng_state(), global_rng)  # the noise has its own generator
    first.update(net, 4)  # new weights: new statistics
    assert not torch.equal(first.state_dict()["1.running_mean"], state["1.running_mean"])


def test_a_generator_without_batch_norm_is_left_alone_at_no_cost():
    net = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.InstanceNorm1d(4))  # InstanceNorm: no running stats
    calls: list[int] = []
    net.register_forward_hook(lambda *_: calls.append(1))
    average = GeneratorAverage(net, 0.9, latent_dim=None)  # needs no noise shape
    before = {k: v.clone() for k, v in average.module.state_dict().items()}
    assert recompute_statistics(average.module, 8, 3) is False
    assert average.averaged() is average.module and calls == []
    assert all(torch.equal(v, before[k]) for k, v in average.module.state_dict().items())


def test_instance_norm_that_tracks_running_statistics_is_recomputed_too():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 8), nn.Unflatten(1, (2, 4)), nn.InstanceNorm1d(2, track_running_stats=True))
    assert recompute_statistics(net, 16, 3, batches=4) is True
    noise = torch.Generator().manual_seed(STANDING_SEED)
    stats = torch.stack([net[:2](torch.randn(16, 3, generator=noise)).mean((0, 2)) for _ in range(4)])
    torch.testing.assert_close(net[2].running_mean, stats.mean(0))  # the cumulative mean (momentum=None would not move)
    assert net[2].momentum == 0.1


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


@pytest.mark.parametrize("bn", ["recompute", "average"])
def test_with_batch_norm_a_resumed_run_writes_the_same_average_as_an_uninterrupted_one(tmp_path, bn):
    options = {"sets": {**TINY_DCGAN, "ema": 0.9, "ema_bn": bn}, "batch_size": 8, "device": "cpu",
               "register": False, **QUIET}
    train("dcgan", "non-saturating", "digits", out=tmp_path / "straight", steps=4, **options)
    train("dcgan", "non-saturating", "digits", out=tmp_path / "resumed", steps=2, **options)
    resume(tmp_path / "resumed", steps=4, **QUIET)
    (_, straight), (_, resumed) = (load_checkpoint(tmp_path / run / "checkpoints") for run in ("straight", "resumed"))
    for key in ("generator", "generator_ema"):
        assert all(torch.equal(straight[key][k], resumed[key][k]) for k in straight[key]), key
    config = make_config("dcgan", "non-saturating", "digits", sets=options["sets"])
    assert config.ema_bn == bn
    trainer = make_trainer(config, REGISTRY, tmp_path / "probe", **QUIET)
    trainer.ema.module.load_state_dict(straight["generator_ema"])
    recompute_statistics(trainer.ema.module, 8, 8)  # the run's batch size and latent size
    same = [torch.equal(v, straight["generator_ema"][k]) for k, v in _statistics(trainer.ema.module).items()]
    assert all(same) if bn == "recompute" else not all(same)


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
                                            ({"ema_bn": "copy"}, "ema_bn"),
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


def test_the_stored_average_carries_statistics_recomputed_for_its_weights(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from ganzoo.cli import app
    from ganzoo.store import load_generator

    monkeypatch.setenv("GANZOO_HOME", str(tmp_path / "home"))
    for name, bn in (("standing", "recompute"), ("averaged", "average")):
        train("dcgan", "non-saturating", "digits", out=tmp_path / name, steps=3, batch_size=8, device="cpu",
              sets={**TINY_DCGAN, "ema": 0.9, "ema_bn": bn}, name=name, **QUIET)
    standing, averaged = load_generator("standing"), load_generator("averaged")
    assert standing.record.config["train_config"]["ema_bn"] == "recompute"
    weights = dict(standing.net.named_parameters())
    assert all(torch.equal(p, weights[k]) for k, p in averaged.net.named_parameters())  # the same averaged weights
    stored = {k: v.clone() for k, v in _statistics(standing.net).items()}
    assert not all(torch.equal(v, _statistics(averaged.net)[k]) for k, v in stored.items())
    recompute_statistics(standing.net, 8, 8)  # recomputing the stored statistics again changes no byte
    assert all(torch.equal(v, stored[k]) for k, v in _statistics(standing.net).items())
    card = CliRunner().invoke(app, ["models", "card", "standing"]).output
    assert "recomputed for the averaged weights" in card and "| ema_bn |" not in card
    card = CliRunner().invoke(app, ["models", "card", "averaged"]).output
    assert "averaged with the weights' decay (`ema_bn=average`)" in card and "| ema_bn | `average` | --set |" in card


def test_a_model_stored_with_averaged_statistics_before_ema_bn_loads_and_samples_as_it_was(tmp_path, monkeypatch):
    from safetensors.torch import load_file

    from ganzoo.store import GENERATOR_EMA_FILE, ModelStore, load_generator
    from ganzoo.store.cards import render_card

    home = tmp_path / "legacy-home"  # the fixture's own README and expected samples stay behind
    shutil.copytree(LEGACY, home, ignore=lambda folder, names: {"README.md", "expected-samples-seed0-n16.npy"}
                    & set(names) if Path(folder) == LEGACY else set())
    monkeypatch.setenv("GANZOO_HOME", str(home))
    store = ModelStore()
    record = store.get("legacy-ema:1")
    assert "ema_bn" not in record.config["train_config"]
    loaded = load_generator("legacy-ema:1")
    assert loaded.weights == "ema"
    stored = load_file(store.file(record, GENERATOR_EMA_FILE))
    assert all(torch.equal(v, stored[k]) for k, v in loaded.net.state_dict().items())  # nothing recomputed
    assert np.array_equal(loaded.sample(16, seed=0).numpy(), np.load(LEGACY / "expected-samples-seed0-n16.npy"))
    card = render_card(record.config, [], record.ref)  # as the store writes it again after an evaluation
    assert "averaged with the weights' decay (stored before ganzoo recorded `ema_bn`)" in card
