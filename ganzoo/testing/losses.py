"""Conformance of a loss plugin: what the trainer relies on when it calls ``critic_loss`` and ``generator_loss``.

The trainer (ganzoo/trainer.py) computes the fake batch without gradients, calls ``critic_loss`` once, does ONE
backward and ONE critic step, then ``after_critic_step``; for the generator it freezes the critic
(``requires_grad_(False)``), calls ``generator_loss`` on a fake batch that carries the generator's graph (and, for a
loss that sets ``needs_real_in_generator_step``, a fresh real batch), and steps the generator. A loss that breaks
any of that trains the wrong network, or silently trains nothing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ganzoo.errors import ConfigError, GanzooError
from ganzoo.plugin.loss import CriticStep, GANLoss, check_real_batch_signature
from ganzoo.plugin.specs import LossSpec
from ganzoo.runs.precision import Precision
from ganzoo.testing.support import (
    changed_parameters,
    check,
    fail,
    gradient_report,
    is_finite,
    parameters_snapshot,
    seeded,
    validate_spec,
)

#: One points case and one tiny image case: a loss must not care which (a penalty must work on both).
SHAPES: tuple[tuple[int, ...], ...] = ((2,), (1, 4, 4))
LATENT_DIM = 3
BATCH = 8
#: ``--precision bf16`` against float32 on the known linear case: relative tolerance of the critic loss, the
#: penalty, the mean gradient norm and the critic's parameter gradient (bf16 keeps 8 significant bits, a relative
#: rounding of 2^-9 per operation; ganzoo's built-in losses stay within 3e-3 here, docs/performance.md).
BF16_TOLERANCE = 2e-2


class TinyGenerator(nn.Module):
    """z -> tanh(Linear(z)) reshaped to ``shape``."""

    def __init__(self, shape: Sequence[int]) -> None:
        super().__init__()
        self.shape = tuple(shape)
        self.body = nn.Linear(LATENT_DIM, math.prod(self.shape))

    def forward(self, z: Tensor) -> Tensor:
        return torch.tanh(self.body(z)).view(z.shape[0], *self.shape)


class TinyCritic(nn.Module):
    """A two-layer MLP critic without normalisation (any loss, penalties included, must accept it)."""

    def __init__(self, shape: Sequence[int]) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(shape), 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x).view(x.shape[0])


class MeanScore(nn.Module):
    """``sign * mean(x)`` per sample: a critic whose preference is known (sign +1 scores larger inputs higher).

    Linear, so its input-gradient norm is the same for both signs and any gradient penalty cancels in comparisons.
    """

    def __init__(self, shape: Sequence[int], sign: float) -> None:
        super().__init__()
        features = math.prod(shape)
        self.linear = nn.Linear(features, 1, bias=False)
        with torch.no_grad():
            self.linear.weight.fill_(sign / features)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x.flatten(1)).view(x.shape[0])


def check_loss(spec: LossSpec, *, options: Mapping[str, Any] | None = None, seed: int = 0) -> None:
    """Assert that ``spec`` is a loss the trainer can use; raises AssertionError naming the first problem.

    Checks: valid declared defaults (TrainingDefaults, JSON-serialisable options the factory accepts); finite
    values; ``critic_loss`` leaves gradients to the caller (no backward, no step, inputs untouched), reaches every
    critic and no generator parameter, and returns detached logged values; ``generator_loss`` reaches the generator
    and no frozen critic parameter; ``after_critic_step`` runs; the signs are right: a critic that scores real data
    higher than fakes has a lower critic loss than one that scores them the other way, and fakes the critic scores
    as real have a lower generator loss than fakes it scores as fake.
    """
    owner = validate_spec(spec, LossSpec)
    try:
        json.dumps(spec.defaults())
    except (TypeError, ValueError) as exc:
        fail(owner, f"its defaults are not JSON-serialisable ({exc}); they are recorded in config.json",
             "use numbers, strings, booleans, None and lists as option values")
    chosen = {**spec.options, **(options or {})}
    try:
        loss = spec.factory(**chosen)
    except Exception as exc:  # any failure of the factory is the finding
        fail(owner, f"factory(**{chosen!r}) raised {exc!r}",
             "the factory must accept every option the entry declares, with the declared defaults")
    check(isinstance(loss, GANLoss), owner, f"factory returned {type(loss).__name__}, not a ganzoo.GANLoss",
          "subclass ganzoo.ComposedLoss (or GANLoss)")
    check(isinstance(loss.forbids_critic_batchnorm, bool), owner, "forbids_critic_batchnorm must be a bool",
          "set forbids_critic_batchnorm = True or False on the loss class")
    check(isinstance(loss.needs_real_in_generator_step, bool), owner, "needs_real_in_generator_step must be a bool",
          "set needs_real_in_generator_step = True or False on the loss class")
    try:
        check_real_batch_signature(loss, spec.name)
    except ConfigError as exc:
        fail(owner, exc.message, exc.hint or "")
    for shape in SHAPES:
        where = f"{owner} on samples of shape {shape}"
        with seeded(seed):
            _check_critic_step(loss, shape, where)
            _check_generator_step(loss, shape, where)
            _check_signs(loss, shape, where)
            _check_bf16(loss, shape, where)


def _scalar(value: object, where: str, what: str, needs_grad: bool) -> Tensor:
    check(isinstance(value, Tensor) and value.numel() == 1, where,
          f"{what} must be a one-element tensor, got {value!r}", "reduce over the batch (e.g. .mean())")
    assert isinstance(value, Tensor)
    check(is_finite(value), where, f"{what} is not finite: {value.item()}",
          "compute log D as -softplus(-logit) (never log(sigmoid)) and avoid divisions that can reach 0")
    if needs_grad:
        check(value.requires_grad, where, f"{what} carries no graph, so backward() cannot train anything",
              "compute it from the critic's scores without .detach() or torch.no_grad()")
    else:
        check(not value.requires_grad, where, f"{what} is logged, so it must be detached",
              "return value.detach() for logged values")
    return value


def _check_critic_step(loss: GANLoss, shape: tuple[int, ...], where: str) -> None:
    generator, critic = TinyGenerator(shape), TinyCritic(shape)
    real = torch.rand(BATCH, *shape) * 2 - 1
    with torch.no_grad():  # as the trainer does: the critic step never trains the generator
        fake = generator(torch.randn(BATCH, LATENT_DIM))
    real_before, fake_before = real.clone(), fake.clone()
    weights_before = parameters_snapshot(critic)
    try:
        step = loss.critic_loss(critic, real, fake)
    except GanzooError as exc:  # e.g. a Constraint.penalty that returns a bare tensor: its hint is the fix
        fail(where, f"critic_loss raised: {exc.message}", exc.hint or "")
    except Exception as exc:
        fail(where, f"critic_loss raised {exc!r}",
             "critic_loss(critic, real, fake) must work on any [B, *shape] batches of points and images")
    check(isinstance(step, CriticStep), where, f"critic_loss returned {type(step).__name__}, not a CriticStep",
          "return ganzoo.CriticStep(loss=..., objective=...) from critic_loss")
    check(not gradient_report(critic)[0], where,
          "critic_loss left gradients on the critic: it must not call backward() (the trainer does ONE backward)",
          "return the objective; the trainer calls backward() on CriticStep.loss itself")
    check(not changed_parameters(critic, weights_before), where,
          "critic_loss changed the critic's weights: only the trainer's optimizer and after_critic_step may",
          "change the critic's weights only in after_critic_step (e.g. clipping)")
    check(torch.equal(real, real_before) and torch.equal(fake, fake_before), where,
          "critic_loss modified the real or fake batch in place", "work on copies (e.g. x.detach().clone())")
    check(not real.requires_grad and not fake.requires_grad, where,
          "critic_loss switched on requires_grad of the caller's real or fake batch",
          "call requires_grad_ on a new tensor (e.g. an interpolate), never on the inputs")
    _scalar(step.loss, where, "critic_loss(...).loss", needs_grad=True)
    for field in ("objective", "penalty", "grad_norm", "w_estimate"):
        value = getattr(step, field)
        if value is not None:
            _scalar(value, where, f"critic_loss(...).{field}", needs_grad=False)
    step.loss.backward()
    _, bad, nonzero = gradient_report(critic)
    check(nonzero, where, "the critic loss gives the critic no gradient: training would not change it",
          "compute the critic loss from critic(real) and critic(fake) without .detach()")
    check(not bad, where, f"the critic loss gives non-finite gradients to {', '.join(bad)}",
          "use numerically stable forms (softplus of logits) and bound any divisions")
    check(not gradient_report(generator)[0], where, "the critic loss reached the generator's parameters",
          "use the fake batch as given (the trainer detaches it); never run the generator inside critic_loss")
    try:
        loss.after_critic_step(critic)
    except Exception as exc:
        fail(where, f"after_critic_step raised {exc!r}", "after_critic_step(critic) must work on any nn.Module critic")
    with torch.no_grad():
        check(is_finite(critic(real)), where, "after_critic_step left a critic whose scores are not finite",
              "keep the critic's weights finite in after_critic_step (clamp; never divide by a norm that can be 0)")


def generator_loss(loss: GANLoss, critic: nn.Module, fake: Tensor, real: Tensor) -> Tensor:
    """``loss.generator_loss`` called as the trainer calls it: with ``real`` only if the loss asks for it."""
    if loss.needs_real_in_generator_step:
        return loss.generator_loss(critic, fake, real)
    return loss.generator_loss(critic, fake)


def _check_generator_step(loss: GANLoss, shape: tuple[int, ...], where: str) -> None:
    generator, critic = TinyGenerator(shape), TinyCritic(shape)
    weights_before = parameters_snapshot(critic)
    critic.requires_grad_(False)  # as the trainer does for the generator step
    fake = generator(torch.randn(BATCH, LATENT_DIM))
    real = torch.rand(BATCH, *shape) * 2 - 1
    real_before = real.clone()
    try:
        value = generator_loss(loss, critic, fake, real)
    except Exception as exc:
        fail(where, f"generator_loss raised {exc!r}",
             "generator_loss must work on any [B, *shape] batch of points and images")
    check(torch.equal(real, real_before) and not real.requires_grad, where,
          "generator_loss modified the real batch in place or switched on its requires_grad",
          "work on copies (e.g. real.detach().clone())")
    _scalar(value, where, "generator_loss(...)", needs_grad=True)
    value.backward()
    _, bad, nonzero = gradient_report(generator)
    check(nonzero, where, "the generator loss gives the generator no gradient: it would never learn",
          "compute it from critic(fake) without detaching fake")
    check(not bad, where, f"the generator loss gives non-finite gradients to {', '.join(bad)}",
          "use numerically stable forms (softplus of logits) and bound any divisions")
    check(all(not p.requires_grad for p in critic.parameters()), where,
          "generator_loss switched the frozen critic's requires_grad back on",
          "leave requires_grad of the critic's parameters alone in generator_loss")
    check(not gradient_report(critic)[0], where, "the generator loss put gradients on the (frozen) critic",
          "do not call backward() in generator_loss, and leave the critic frozen")
    check(not changed_parameters(critic, weights_before), where, "generator_loss changed the critic's weights",
          "change the critic's weights only in after_critic_step")


def _check_signs(loss: GANLoss, shape: tuple[int, ...], where: str) -> None:
    real = 1.0 + 0.1 * torch.randn(BATCH, *shape)
    fake_unlike_real = -1.0 + 0.1 * torch.randn(BATCH, *shape)
    fake_like_real = 1.0 + 0.1 * torch.randn(BATCH, *shape)
    right, wrong = MeanScore(shape, +1.0), MeanScore(shape, -1.0)  # right scores real (~+1) above fake (~-1)
    right_loss = loss.critic_loss(right, real, fake_unlike_real).loss.item()
    wrong_loss = loss.critic_loss(wrong, real, fake_unlike_real).loss.item()
    check(right_loss < wrong_loss, where,
          f"sign: a critic that scores real data above fakes has critic loss {right_loss:.4g}, not lower than "
          f"{wrong_loss:.4g} for one that scores fakes above real data; minimising it would teach the critic the "
          "wrong way round", "the critic loss must fall as real scores rise and fake scores fall")
    right.requires_grad_(False)
    fooled = generator_loss(loss, right, fake_like_real, real).item()
    caught = generator_loss(loss, right, fake_unlike_real, real).item()
    check(fooled < caught, where,
          f"sign: fakes the critic scores like real data have generator loss {fooled:.4g}, not lower than "
          f"{caught:.4g} for fakes it scores as fake", "the generator loss must fall as the critic's fake scores rise")


class LinearCritic(nn.Module):
    """f(x) = w . x: its input gradient is w everywhere, so a gradient penalty's norm is |w| at every interpolate
    (WGAN-GP's penalty is exactly lambda (|w| - 1)^2)."""

    def __init__(self, shape: Sequence[int]) -> None:
        super().__init__()
        features = math.prod(shape)
        self.w = nn.Parameter(torch.linspace(-1.0, 2.0, features) / math.sqrt(features))

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(1) @ self.w


def _critic_numbers(loss: GANLoss, critic: nn.Module, params: nn.Module, real: Tensor, fake: Tensor,
                    seed: int) -> dict[str, Tensor]:
    params.zero_grad(set_to_none=True)
    with seeded(seed):  # the same penalty noise in both precisions
        step = loss.critic_loss(critic, real, fake)
    step.loss.backward()
    numbers = {"critic loss": step.loss.detach(), "parameter gradient": params.w.grad.detach().clone()}
    for name, value in (("penalty", step.penalty), ("mean gradient norm", step.grad_norm)):
        if value is not None:
            numbers[name] = value
    return numbers


def _check_bf16(loss: GANLoss, shape: tuple[int, ...], where: str) -> None:
    """Under ``--precision bf16`` (the critic run as the trainer runs it: autocast, float32 scores) the critic loss,
    its penalty, gradient norms and parameter gradients match float32 within BF16_TOLERANCE on the linear critic;
    a penalty's mean gradient norm there is |w| in both precisions."""
    critic = LinearCritic(shape)
    real = torch.rand(BATCH, *shape) * 2 - 1
    fake = torch.rand(BATCH, *shape) * 2 - 1
    exact = _critic_numbers(loss, critic, critic, real, fake, seed=1)
    low = _critic_numbers(loss, Precision("bf16").wrap(critic, "critic"), critic, real, fake, seed=1)
    check(set(low) == set(exact), where, f"under bf16 the critic step reports {sorted(low)}, in float32 "
          f"{sorted(exact)}", "report the same CriticStep fields whatever the precision")
    for name, value in exact.items():
        check(bool(torch.isfinite(low[name]).all()), where, f"under --precision bf16 the {name} is not finite "
              "on a linear critic (it is in float32)", "compute the loss from the critic's scores in float32")
        error = float((low[name].double() - value.double()).norm() / value.double().norm().clamp_min(1e-12))
        check(error <= BF16_TOLERANCE, where,
              f"under --precision bf16 the {name} differs from float32 by {error:.2g} (relative; the tolerance is "
              f"{BF16_TOLERANCE}) on a linear critic", "compute the loss from the critic's scores in float32 "
              "(ganzoo casts them back); do not cast inputs or weights to a lower precision yourself")
    if "mean gradient norm" in exact:
        norm_w = float(critic.w.detach().norm())
        for precision, numbers in (("float32", exact), ("bf16", low)):
            got = float(numbers["mean gradient norm"])
            check(abs(got - norm_w) <= BF16_TOLERANCE * norm_w, where,
                  f"in {precision} the mean gradient norm of the linear critic f(x) = w.x is {got:.4g}, not "
                  f"|w| = {norm_w:.4g}", "the penalty's norm is |grad_x f(x^)|_2 per sample over all non-batch dims")
