"""What the trainer asks of a loss: the contract every loss plugin implements.

A loss is an *objective* (how real and fake critic scores become the two players' losses) composed with a
*constraint* (how the critic is kept Lipschitz, if at all). :class:`ComposedLoss` joins the two; the built-in plugin
registers the five standard combinations under their paper names, and a third party can compose its own.

The trainer runs one loop for every loss (Algorithm 1 of the WGAN papers, generalised)::

    for each generator step:
        repeat n_critic times:  step = loss.critic_loss(critic, real, fake.detach())
                                step.loss.backward(); critic_opt.step(); loss.after_critic_step(critic)
        loss.generator_loss(critic, fake).backward(); generator_opt.step()

A loss whose generator objective needs the critic's view of real data (a relativistic loss) sets
``needs_real_in_generator_step = True``: the trainer then draws a fresh real batch from its stream for the generator
step and calls ``generator_loss(critic, fake, real)`` (``Objective.generator(fake_scores, real_scores)``). Every other
loss is called exactly as before (``generator_loss(critic, fake)``, ``Objective.generator(fake_scores)``) and no
extra batch is drawn, so its data stream, and with it every number it trains to, is unchanged. Losses written
before the flag existed keep working untouched; a loss that sets the flag but whose method takes no real batch is
refused by :func:`check_real_batch_signature` with a message saying what to change.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from ganzoo.errors import ConfigError, PluginError
from ganzoo.plugin.hookspecs import API_VERSION


@dataclass
class CriticStep:
    """One critic update's objective and what to log about it.

    ``loss`` is the whole objective (objective term + penalty): the trainer does ONE backward and ONE optimizer step
    on it. ``w_estimate`` is -(critic loss without penalty) for Wasserstein objectives, the running estimate of
    W(P_r, P_g); None for objectives that do not estimate it. Logged values are detached.
    """

    loss: Tensor
    objective: Tensor
    penalty: Tensor | None = None
    grad_norm: Tensor | None = None
    w_estimate: Tensor | None = None


class GANLoss(ABC):
    """The interface the trainer calls. Subclass :class:`ComposedLoss` unless you need full control."""

    #: A critic trained with this loss must not contain batch norm (e.g. a per-sample gradient penalty).
    forbids_critic_batchnorm: bool = False
    #: The generator step needs a real batch: the trainer draws a fresh one and calls
    #: ``generator_loss(critic, fake, real)``. False (the default): ``generator_loss(critic, fake)``, no batch drawn.
    needs_real_in_generator_step: bool = False

    @abstractmethod
    def critic_loss(self, critic: nn.Module, real: Tensor, fake: Tensor) -> CriticStep:
        """The critic's objective on a real batch and a (detached) fake batch."""

    @abstractmethod
    def generator_loss(self, critic: nn.Module, fake: Tensor, real: Tensor | None = None) -> Tensor:
        """The generator's objective (a one-element tensor carrying the generator's graph) on a fake batch that
        carries the generator's graph; ``real`` is a fresh real batch when ``needs_real_in_generator_step``, else
        None (and not passed at all)."""

    def after_critic_step(self, critic: nn.Module) -> None:  # noqa: B027 - optional hook, no-op by default
        """Called after every critic optimizer step (e.g. to clip weights)."""


class Objective(ABC):
    """Maps critic scores (one per sample) to the two players' losses."""

    #: True if -(critic objective) estimates the Wasserstein-1 distance.
    estimates_wasserstein: bool = False
    #: The generator objective needs the critic's scores of a real batch: ``generator(fake_scores, real_scores)``.
    needs_real_in_generator_step: bool = False

    @abstractmethod
    def critic(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        """The critic/discriminator objective (minimised)."""

    @abstractmethod
    def generator(self, fake_scores: Tensor, real_scores: Tensor | None = None) -> Tensor:
        """The generator objective (minimised); ``real_scores`` only when ``needs_real_in_generator_step``."""


class Constraint:
    """Keeps the critic in check. The default constrains nothing."""

    forbids_critic_batchnorm: bool = False

    def penalty(self, critic: nn.Module, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor] | None:
        """(penalty term, per-sample gradient norms) to add to the critic objective, or None."""
        return None

    def after_critic_step(self, critic: nn.Module) -> None:
        """Applied after every critic optimizer step."""


def penalty_parts(constraint: Constraint, value: object) -> tuple[Tensor, Tensor]:
    """``(penalty, per-sample gradient norms)`` from what ``constraint.penalty`` returned, or a
    :class:`~ganzoo.errors.PluginError` that says what to return instead (a bare tensor cannot be unpacked)."""
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, Tensor) for v in value):
        return value[0], value[1]
    got = f"a {type(value).__name__}" + (f" of shape {tuple(value.shape)}" if isinstance(value, Tensor) else "")
    raise PluginError(f"{type(constraint).__name__}.penalty returned {got}; a Constraint's penalty must return "
                      "(penalty, per-sample gradient norms) or None",
                      hint="return the penalty term and the [B] gradient norms it was computed from, e.g. "
                           "`return lam * (norms - 1).pow(2).mean(), norms`; return None to add no penalty")


class ComposedLoss(GANLoss):
    """An objective plus a constraint, as one loss."""

    def __init__(self, objective: Objective, constraint: Constraint | None = None) -> None:
        self.objective = objective
        self.constraint = constraint or Constraint()
        self.forbids_critic_batchnorm = self.constraint.forbids_critic_batchnorm
        self.needs_real_in_generator_step = bool(getattr(objective, "needs_real_in_generator_step", False))

    def critic_loss(self, critic: nn.Module, real: Tensor, fake: Tensor) -> CriticStep:
        objective = self.objective.critic(critic(real), critic(fake))
        w_estimate = -objective.detach() if self.objective.estimates_wasserstein else None
        penalised = self.constraint.penalty(critic, real, fake)
        if penalised is None:
            return CriticStep(loss=objective, objective=objective.detach(), w_estimate=w_estimate)
        penalty, norms = penalty_parts(self.constraint, penalised)
        return CriticStep(loss=objective + penalty, objective=objective.detach(), penalty=penalty.detach(),
                          grad_norm=norms.detach().mean(), w_estimate=w_estimate)

    def generator_loss(self, critic: nn.Module, fake: Tensor, real: Tensor | None = None) -> Tensor:
        if not self.needs_real_in_generator_step:
            return self.objective.generator(critic(fake))
        if real is None:
            raise ConfigError(f"{type(self.objective).__name__} needs a real batch in the generator step",
                              hint="call generator_loss(critic, fake, real)")
        return self.objective.generator(critic(fake), critic(real))

    def after_critic_step(self, critic: nn.Module) -> None:
        self.constraint.after_critic_step(critic)



def takes_real_batch(method: Callable[..., Any], positional: int) -> bool:
    """Whether the bound ``method`` accepts ``positional`` positional arguments (the last being the real batch)."""
    try:
        parameters = list(inspect.signature(method).parameters.values())
    except (TypeError, ValueError):  # a callable without a signature: cannot tell, trust the flag
        return True
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters):
        return True
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(p.kind in kinds for p in parameters) >= positional


def check_real_batch_signature(loss: GANLoss, name: str) -> None:
    """Refuse a loss that asks for the real batch in the generator step but cannot take it (a ConfigError naming the
    loss contract of this hook API version and the signature to write)."""
    if not getattr(loss, "needs_real_in_generator_step", False):
        return
    objective = getattr(loss, "objective", None) if isinstance(loss, ComposedLoss) else None
    if objective is not None:
        method, arguments, wanted = objective.generator, 2, "generator(self, fake_scores, real_scores=None)"
        owner = type(objective).__name__
    else:
        method, arguments, wanted = loss.generator_loss, 3, "generator_loss(self, critic, fake, real=None)"
        owner = type(loss).__name__
    if not takes_real_batch(method, arguments):
        raise ConfigError(
            f"loss {name!r}: {owner} sets needs_real_in_generator_step, but its {method.__name__} takes no real "
            f"batch (ganzoo hook API {API_VERSION})",
            hint=f"define {wanted} (the trainer passes the real batch as that argument), or drop the flag")
