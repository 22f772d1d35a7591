"""The training loop: every loss x architecture trains; the loop follows Algorithm 1; runs are reproducible."""

from __future__ import annotations

import json
import os
import signal
import threading

import pytest
import torch

from ganzoo import api
from ganzoo.api import make_config, train
from ganzoo.errors import ConfigError
from ganzoo.plugin.loading import get_registry

REGISTRY = get_registry()
LOSSES = [s.name for s in REGISTRY.entries("loss")]
ARCHS = REGISTRY.entries("arch")
SMALL = {"mlp": {"hidden": 32, "layers": 2}, "dcgan": {"width": 8}, "dcgan-nobn": {"width": 8}}


def small_options(arch: str) -> dict:
    """Narrow networks keep the test fast; archs we do not know are tested at their defaults."""
    return {f"arch.{k}": v for k, v in SMALL.get(arch, {}).items()}


def cases():
    for arch in ARCHS:
        datasets = (["gaussians8"] if arch.points else []) + ["digits"]  # digits: real 28x28 images, offline
        for dataset in datasets:
            for loss in LOSSES:
                yield pytest.param(arch.name, loss, dataset, id=f"{arch.name}-{loss}-{dataset}")


def make_trainer(tmp_path, arch, loss, dataset="digits", **overrides):
    sets = {**small_options(arch), **overrides.pop("sets", {})}
    config = make_config(arch, loss, dataset, sets=sets, batch_size=overrides.pop("batch_size", 16),
                         device="cpu", **overrides)
    return api.make_trainer(config, REGISTRY, tmp_path / "run", progress=False, echo=lambda _: None)


def flat(module: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in module.parameters()])


@pytest.mark.parametrize(("arch", "loss", "dataset"), list(cases()))
def test_every_loss_trains_every_architecture(tmp_path, arch, loss, dataset):
    trainer = make_trainer(tmp_path, arch, loss, dataset, steps=2)
    g0, d0 = flat(trainer.generator), flat(trainer.critic)
    for _ in range(2):
        values = trainer.train_step()
        assert torch.isfinite(values[:2]).all()  # critic and generator losses
    assert not torch.equal(flat(trainer.generator), g0)
    assert not torch.equal(flat(trainer.critic), d0)


def test_wgan_clips_every_critic_parameter_after_every_critic_step(tmp_path):
    trainer = make_trainer(tmp_path, "dcgan", "wgan", steps=2)
    clip = torch.tensor(trainer.config.loss_options["clip"]).item()
    seen = []
    original = trainer.loss.after_critic_step

    def checked(critic):
        original(critic)
        seen.append(max(p.abs().max().item() for p in critic.parameters()))

    trainer.loss.after_critic_step = checked
    trainer.train_step()
    trainer.train_step()
    assert len(seen) == 2 * trainer.config.n_critic == 10
    assert max(seen) <= clip


@pytest.mark.parametrize("loss", ["wgan-gp", "wgan-lp", "wgan", "minimax"])
def test_one_backward_and_one_optimizer_step_per_critic_iteration(tmp_path, monkeypatch, loss):
    trainer = make_trainer(tmp_path, "mlp", loss, "gaussians8", steps=1)
    counts = {"backward": 0, "critic_step": 0, "generator_step": 0}
    real_backward = torch.Tensor.backward

    def counting_backward(self, *args, **kwargs):
        counts["backward"] += 1
        return real_backward(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "backward", counting_backward)
    for name, opt in (("critic_step", trainer.opt_d), ("generator_step", trainer.opt_g)):
        step = opt.step
        monkeypatch.setattr(opt, "step", lambda *a, _s=step, _n=name, **k: (counts.__setitem__(_n, counts[_n] + 1),
                                                                            _s(*a, **k))[1])
    trainer.train_step()
    n = trainer.config.n_critic
    assert counts == {"backward": n + 1, "critic_step": n, "generator_step": 1}


def test_each_critic_iteration_draws_a_new_real_batch(tmp_path):
    trainer = make_trainer(tmp_path, "dcgan", "wgan-gp", steps=1)
    batches = []
    original = trainer.data.batch
    trainer.data.batch = lambda n, g: batches.append(original(n, g)) or batches[-1]
    trainer.train_step()
    assert len(batches) == 5
    assert all(not torch.equal(batches[0], b) for b in batches[1:])


def test_gradient_penalty_loss_replaces_critic_batch_norm_with_layer_norm_and_says_so(tmp_path):
    trainer = make_trainer(tmp_path, "dcgan", "wgan-gp", steps=1)
    assert trainer.config.arch_options["critic_norm"] == "layer"
    assert "required by loss 'wgan-gp'" in trainer.config.sources["arch.critic_norm"]
    assert any("layer norm" in note for note in trainer.config.notes)
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in trainer.critic.modules())
    assert any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in trainer.generator.modules())


def test_asking_for_batch_norm_in_a_penalised_critic_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="forbids batch norm"):
        make_trainer(tmp_path, "dcgan", "wgan-gp", steps=1, sets={"critic_norm": "batch"})


def test_batch_norm_stays_for_losses_without_a_penalty(tmp_path):
    trainer = make_trainer(tmp_path, "dcgan", "non-saturating", steps=1)
    assert trainer.config.arch_options["critic_norm"] == "batch"
    assert not [note for note in trainer.config.notes if "normalisation" in note]


def test_same_seed_same_device_same_result(tmp_path):
    a = make_trainer(tmp_path / "a", "dcgan", "wgan-gp", steps=3, seed=7)
    b = make_trainer(tmp_path / "b", "dcgan", "wgan-gp", steps=3, seed=7)
    c = make_trainer(tmp_path / "c", "dcgan", "wgan-gp", steps=3, seed=8)
    for t in (a, b, c):
        for _ in range(3):
            t.train_step()
    assert torch.equal(flat(a.generator), flat(b.generator))
    assert torch.equal(flat(a.critic), flat(b.critic))
    assert not torch.equal(flat(a.generator), flat(c.generator))


def test_run_writes_metrics_samples_curves_and_checkpoints(tmp_path):
    result = train("dcgan", "wgan-gp", "digits", out=tmp_path / "run", sets=small_options("dcgan"), steps=4,
                   batch_size=16, device="cpu", sample_every=2, checkpoint_every=2, progress=False, echo=lambda _: None)
    run = result.run_dir
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    for r in records:
        assert {"critic_loss", "generator_loss", "w_estimate", "penalty", "grad_norm", "time"} <= set(r)
        assert r["penalty"] >= 0 and r["grad_norm"] > 0
        assert r["w_estimate"] == pytest.approx(-(r["critic_loss"] - r["penalty"]), abs=1e-4)
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step_0000002.png", "step_0000004.png"]
    assert (run / "curves.png").stat().st_size > 1000
    latest = json.loads((run / "checkpoints" / "latest.json").read_text())
    assert latest["step"] == 4 and (run / "checkpoints" / "step_0000004.safetensors").exists()
    config = json.loads((run / "config.json").read_text())
    assert config["config"]["lr"] == 1e-4 and config["config"]["sources"]["lr"] == "paper default of loss 'wgan-gp'"
    assert config["config"]["notes"] and not list(run.rglob("*.tmp"))


def test_minimax_logs_no_w_estimate(tmp_path):
    result = train("mlp", "minimax", "gaussians8", out=tmp_path / "run", sets=small_options("mlp"), steps=2,
                   device="cpu", progress=False, echo=lambda _: None)
    assert result.last["w_estimate"] is None and result.last["penalty"] is None


def test_ctrl_c_checkpoints_and_stops_cleanly(tmp_path):
    trainer = make_trainer(tmp_path, "mlp", "wgan-gp", "gaussians8", steps=10_000)
    original = trainer.train_step

    def step_then_interrupt():
        values = original()
        if trainer.step == 3:
            os.kill(os.getpid(), signal.SIGINT)
        return values

    trainer.train_step = step_then_interrupt
    assert threading.current_thread() is threading.main_thread()
    result = trainer.run()
    assert result.interrupted and result.step == 3
    assert json.loads((tmp_path / "run" / "checkpoints" / "latest.json").read_text())["step"] == 3
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 3


@pytest.mark.parametrize(("overrides", "word"), [
    ({"steps": 0}, "steps"), ({"lr": -1.0}, "lr"), ({"batch_size": 0}, "batch_size"),
    ({"n_critic": 0}, "n_critic"), ({"sets": ["betas=[0, 2]"]}, "betas"), ({"sets": ["nonsense=1"]}, "unknown setting"),
    ({"sets": ["arch.depth=3"]}, "no option"), ({"device": "tpu"}, "device")])
def test_bad_settings_are_clear_errors(tmp_path, overrides, word):
    sets = overrides.pop("sets", [])
    with pytest.raises(ConfigError, match=word):
        config = make_config("mlp", "wgan-gp", "gaussians8", sets=sets, **overrides)
        api.make_trainer(config, REGISTRY, tmp_path, progress=False)


def test_dataset_recommendations_apply_only_where_the_user_did_not_choose():
    spec = REGISTRY.dataset("gaussians8")
    recommended = spec.recommended_for(REGISTRY.loss("wgan-gp"))
    assert "lr" in recommended
    config = make_config("mlp", "wgan-gp", "gaussians8")
    assert config.lr == recommended["lr"] and "gaussians8" in config.sources["lr"]
    config = make_config("mlp", "wgan-gp", "gaussians8", lr=3e-4)
    assert config.lr == 3e-4 and config.sources["lr"] == "command line"


def test_log_layer_grads_logs_every_parameter_and_d_of_g_without_changing_training(tmp_path):
    def run(folder, **sets):
        return train("mlp", "non-saturating", "gaussians8", out=tmp_path / folder,
                     sets={**small_options("mlp"), **sets}, steps=3, batch_size=1, device="cpu", progress=False,
                     echo=lambda _: None, register=False)

    logged, plain = run("logged", log_layer_grads=True), run("plain")
    records = [json.loads(line) for line in (logged.run_dir / "metrics.jsonl").read_text().splitlines()]
    trainer = make_trainer(tmp_path, "mlp", "non-saturating", "gaussians8")
    names = {f"grad/critic/{n}" for n, _ in trainer.critic.named_parameters()}
    names |= {f"grad/generator/{n}" for n, _ in trainer.generator.named_parameters()}
    for r in records:
        assert names <= set(r) and all(r[k] > 0 for k in names)
        per_layer = [r[k] for k in r if k.startswith("grad/generator/")]
        assert r["grad_norm/generator"] == pytest.approx(sum(v * v for v in per_layer) ** 0.5, rel=1e-5)
        # batch of one: the non-saturating generator loss is -log D(G(z)) of that one sample
        assert r["d_fake"] == pytest.approx(torch.exp(torch.tensor(-r["generator_loss"])).item(), rel=1e-4)
    plain_last = json.loads((plain.run_dir / "metrics.jsonl").read_text().splitlines()[-1])
    assert "d_fake" not in plain_last and plain_last["critic_loss"] == records[-1]["critic_loss"]
    with pytest.raises(ConfigError, match="log_layer_grads"):
        make_config("mlp", "wgan", "gaussians8", sets={"log_layer_grads": "yes"})
