"""What the trainer asks of a loss: the contract every loss plugin implements.

A loss is an *objective* (how real and fake critic scores become the two players' losses) composed with a
*constraint* (how the critic is kept Lipschitz, if at all). :class:`ComposedLoss` joins the two; the built-in plugin
registers the five standard combinations under their paper names, and a third party can compose its own.

The trainer runs one loop for every loss (Algorithm 1 of the WGAN papers, generalised)::

    for each generator step:
        repeat n_critic times:  step = loss.critic_loss(critic, real, fake.detach())
                                step.loss.backward(); critic_opt.step(); loss.after_critic_step(critic)
        loss.generator_loss(critic, fake).backward(); generator_opt.step()
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from torch import Tensor, nn


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

    @abstractmethod
    def critic_loss(self, critic: nn.Module, real: Tensor, fake: Tensor) -> CriticStep:
        """The critic's objective on a real batch and a (detached) fake batch."""

    @abstractmethod
    def generator_loss(self, critic: nn.Module, fake: Tensor) -> Tensor:
        """The generator's objective on a fake batch that carries the generator's graph."""

    def after_critic_step(self, critic: nn.Module) -> None:  # noqa: B027 - optional hook, no-op by default
        """Called after every critic optimizer step (e.g. to clip weights)."""


class Objective(ABC):
    """Maps critic scores (one per sample) to the two players' losses."""

    #: True if -(critic objective) estimates the Wasserstein-1 distance.
    estimates_wasserstein: bool = False

    @abstractmethod
    def critic(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        """The critic/discriminator objective (minimised)."""

    @abstractmethod
    def generator(self, fake_scores: Tensor) -> Tensor:
        """The generator objective (minimised)."""


class Constraint:
    """Keeps the critic in check. The default constrains nothing."""

    forbids_critic_batchnorm: bool = False

    def penalty(self, critic: nn.Module, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor] | None:
        """(penalty term, per-sample gradient norms) to add to the critic objective, or None."""
        return None

    def after_critic_step(self, critic: nn.Module) -> None:
        """Applied after every critic optimizer step."""


class ComposedLoss(GANLoss):
    """An objective plus a constraint, as one loss."""

    def __init__(self, objective: Objective, constraint: Constraint | None = None) -> None:
        self.objective = objective
        self.constraint = constraint or Constraint()
        self.forbids_critic_batchnorm = self.constraint.forbids_critic_batchnorm

    def critic_loss(self, critic: nn.Module, real: Tensor, fake: Tensor) -> CriticStep:
        objective = self.objective.critic(critic(real), critic(fake))
        w_estimate = -objective.detach() if self.objective.estimates_wasserstein else None
        penalised = self.constraint.penalty(critic, real, fake)
        if penalised is None:
            return CriticStep(loss=objective, objective=objective.detach(), w_estimate=w_estimate)
        penalty, norms = penalised
        return CriticStep(loss=objective + penalty, objective=objective.detach(), penalty=penalty.detach(),
                          grad_norm=norms.detach().mean(), w_estimate=w_estimate)

    def generator_loss(self, critic: nn.Module, fake: Tensor) -> Tensor:
        return self.objective.generator(critic(fake))

    def after_critic_step(self, critic: nn.Module) -> None:
        self.constraint.after_critic_step(critic)

