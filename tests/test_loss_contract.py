"""The loss contract's real batch in the generator step: every registered loss is called as before (no extra batch:
its data stream and numbers are unchanged) unless it asks for the real batch, which then is a fresh one from the
trainer's stream; plugins written against the contract before the flag keep training; a loss that asks for the
batch without a method that takes it is refused with the hook API version and the signature to write."""

from __future__ import annotations

import pytest
import torch
from plugin_support import builtin_plugins, plugin_module
from torch import Tensor, nn

from ganzoo import API_VERSION, ComposedLoss, ConfigError, GANLoss, LossSpec, Objective, hookimpl
from ganzoo.api import make_config, make_trainer
from ganzoo.plugin.loading import build_registry, get_registry
from ganzoo.plugin.loss import CriticStep, check_real_batch_signature
from ganzoo.testing import check_loss

REGISTRY = get_registry()
LOSSES = [s.name for s in REGISTRY.entries("loss")]
TINY = {"arch.hidden": 8, "arch.layers": 1}


def trainer_for(tmp_path, loss: str, registry=REGISTRY, **overrides):
    config = make_config("mlp", loss, "gaussians8", sets=TINY, batch_size=8, device="cpu", registry=registry,
                         **overrides)
    return make_trainer(config, registry, tmp_path / "run", progress=False, echo=lambda _: None)


def recorded_batches(trainer) -> list[Tensor]:
    batches: list[Tensor] = []
    original = trainer.data.batch
    trainer.data.batch = lambda n, g: batches.append(original(n, g)) or batches[-1]
    return batches


class AsksForReal(GANLoss):
    """Wraps a registered loss and asks for the real batch in the generator step, recording what it is given."""

    needs_real_in_generator_step = True

    def __init__(self, inner: GANLoss) -> None:
        self.inner = inner
        self.forbids_critic_batchnorm = inner.forbids_critic_batchnorm
        self.given: list[tuple] = []

    def critic_loss(self, critic: nn.Module, real: Tensor, fake: Tensor) -> CriticStep:
        return self.inner.critic_loss(critic, real, fake)

    def generator_loss(self, critic: nn.Module, fake: Tensor, real: Tensor | None = None) -> Tensor:
        self.given.append((fake, real))
        return self.inner.generator_loss(critic, fake)

    def after_critic_step(self, critic: nn.Module) -> None:
        self.inner.after_critic_step(critic)


@pytest.mark.parametrize("loss", LOSSES)
def test_a_loss_that_does_not_ask_gets_no_real_batch_and_its_stream_is_unchanged(tmp_path, loss):
    trainer = trainer_for(tmp_path, loss)
    assert trainer.loss.needs_real_in_generator_step is False
    calls = []
    original = trainer.loss.generator_loss
    trainer.loss.generator_loss = lambda *args: calls.append(len(args)) or original(*args)
    batches = recorded_batches(trainer)
    trainer.train_step()
    assert calls == [2]  # generator_loss(critic, fake), exactly as before the flag existed
    assert len(batches) == trainer.config.n_critic  # one real batch per critic step, none more


@pytest.mark.parametrize("loss", LOSSES)
def test_a_loss_that_asks_gets_a_fresh_real_batch_from_the_stream(tmp_path, loss):
    trainer = trainer_for(tmp_path, loss)
    trainer.loss = spy = AsksForReal(trainer.loss)
    batches = recorded_batches(trainer)
    trainer.train_step()
    n = trainer.config.n_critic
    assert len(batches) == n + 1 and len(spy.given) == 1
    fake, real = spy.given[0]
    assert real is batches[-1] and real.shape == fake.shape and not real.requires_grad
    assert all(not torch.equal(real, b) for b in batches[:n])  # a new batch, not one a critic step saw
    assert fake.requires_grad  # the fake batch still carries the generator's graph


OLD_STYLE = '''
import torch
from ganzoo import ComposedLoss, GANLoss, LossSpec, Objective, hookimpl
from ganzoo.loss import CriticStep

class OldObjective(Objective):  # written against the contract before needs_real_in_generator_step
    def critic(self, real_scores, fake_scores):
        return fake_scores.mean() - real_scores.mean()
    def generator(self, fake_scores):
        return -fake_scores.mean()

class OldLoss(GANLoss):
    def critic_loss(self, critic, real, fake):
        objective = critic(fake).mean() - critic(real).mean()
        return CriticStep(loss=objective, objective=objective.detach())
    def generator_loss(self, critic, fake):
        return -critic(fake).mean()

@hookimpl
def register_losses(register):
    register(LossSpec(name="old-objective", factory=lambda: ComposedLoss(OldObjective())))
    register(LossSpec(name="old-loss", factory=OldLoss))
'''


def test_plugins_written_before_the_flag_still_train(tmp_path):
    registry = build_registry([*builtin_plugins(), ("old", plugin_module("old_losses", OLD_STYLE), "old", "1.0")])
    assert not registry.failures
    for name in ("old-objective", "old-loss"):
        check_loss(registry.loss(name))
        trainer = trainer_for(tmp_path / name, name, registry=registry, steps=2)
        before = [p.clone() for p in trainer.generator.parameters()]
        for _ in range(2):
            assert torch.isfinite(trainer.train_step()[:2]).all()  # critic and generator losses
        assert any(not torch.equal(a, b) for a, b in zip(before, trainer.generator.parameters(), strict=True))


class FlagWithoutArgument(Objective):
    needs_real_in_generator_step = True

    def critic(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return fake_scores.mean() - real_scores.mean()

    def generator(self, fake_scores: Tensor) -> Tensor:  # type: ignore[override] - the mistake under test
        return -fake_scores.mean()


class LossFlagWithoutArgument(GANLoss):
    needs_real_in_generator_step = True

    def critic_loss(self, critic: nn.Module, real: Tensor, fake: Tensor) -> CriticStep:
        raise NotImplementedError

    def generator_loss(self, critic: nn.Module, fake: Tensor) -> Tensor:  # type: ignore[override]
        return -critic(fake).mean()


@pytest.mark.parametrize(("loss", "signature"), [
    (ComposedLoss(FlagWithoutArgument()), "generator(self, fake_scores, real_scores=None)"),
    (LossFlagWithoutArgument(), "generator_loss(self, critic, fake, real=None)")])
def test_a_loss_that_asks_without_taking_the_batch_is_refused_naming_the_fix(loss, signature):
    with pytest.raises(ConfigError, match=f"hook API {API_VERSION}") as caught:
        check_real_batch_signature(loss, "bad")
    assert signature in caught.value.hint
    with pytest.raises(AssertionError, match="takes no real batch"):
        check_loss(LossSpec(name="bad", factory=lambda: loss))


def test_the_trainer_refuses_it_before_training(tmp_path):
    @hookimpl
    def register_losses(register):
        register(LossSpec(name="bad", factory=lambda: ComposedLoss(FlagWithoutArgument())))

    plugin = type("Plugin", (), {"register_losses": staticmethod(register_losses)})
    registry = build_registry([*builtin_plugins(), ("bad", plugin, "bad", "1.0")])
    with pytest.raises(ConfigError, match="takes no real batch"):
        trainer_for(tmp_path, "bad", registry=registry)
