"""The five standard GAN losses: objective x constraint, registered under their paper names.

| name | objective | constraint | paper defaults |
|---|---|---|---|
| minimax | -E log D(x) - E log(1 - D(G(z))) / E log(1 - D(G(z))) | none | Adam 2e-4, (0.5, 0.999), k = 1 |
| non-saturating | same critic / -E log D(G(z)) | none | as minimax |
| wgan | E f(G(z)) - E f(x) / -E f(G(z)) | clip every critic weight to [-c, c] | RMSprop 5e-5, c = 0.01, n_critic = 5 |
| wgan-gp | as wgan | + lambda E (|grad f(x^)| - 1)^2 | Adam 1e-4, (0.0, 0.9), lambda = 10, n_critic = 5 |
| wgan-lp | as wgan | + lambda E max(0, |grad f(x^)| - 1)^2 | as wgan-gp |

D outputs a logit l; log D = -softplus(-l) and log(1 - D) = -softplus(l), never log(sigmoid(l)), which underflows.
"""

from __future__ import annotations

import difflib

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganzoo import ComposedLoss, ConfigError, Constraint, LossSpec, Objective, TrainingDefaults, hookimpl

GOODFELLOW = "Goodfellow et al. 2014, Generative Adversarial Nets (arXiv:1406.2661)"
ARJOVSKY = "Arjovsky, Chintala, Bottou 2017, Wasserstein GAN (arXiv:1701.07875)"
GULRAJANI = "Gulrajani et al. 2017, Improved Training of Wasserstein GANs (arXiv:1704.00028)"
PETZKA = "Petzka, Fischer, Lukovnikov 2018, On the regularization of Wasserstein GANs (arXiv:1709.08894)"


# --- objectives -----------------------------------------------------------------------------------------------


class MinimaxObjective(Objective):
    """Goodfellow's original game: the generator minimises E log(1 - D(G(z))) (saturates when D(G(z)) -> 0)."""

    def critic(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        # -E log D(x) - E log(1 - D(x~)) = E softplus(-l_real) + E softplus(l_fake)
        return F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()

    def generator(self, fake_scores: Tensor) -> Tensor:
        # E log(1 - D(x~)) = -E softplus(l_fake); d/dl = -sigmoid(l) = -D(x~): vanishes as D(x~) -> 0
        return -F.softplus(fake_scores).mean()


class NonSaturatingObjective(MinimaxObjective):
    """The -log D trick: same discriminator, generator minimises -E log D(G(z)) (gradient ~ -1 when D(G(z)) -> 0)."""

    def generator(self, fake_scores: Tensor) -> Tensor:
        # -E log D(x~) = E softplus(-l_fake); d/dl = -(1 - D(x~)) -> -1 as D(x~) -> 0
        return F.softplus(-fake_scores).mean()


class WassersteinObjective(Objective):
    """Kantorovich-Rubinstein dual: the critic maximises E f(x) - E f(x~); the generator maximises E f(x~)."""

    estimates_wasserstein = True

    def critic(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return fake_scores.mean() - real_scores.mean()

    def generator(self, fake_scores: Tensor) -> Tensor:
        return -fake_scores.mean()


# --- constraints ----------------------------------------------------------------------------------------------


class WeightClipping(Constraint):
    """WGAN: after every critic step, clamp every critic parameter to [-c, c]."""

    def __init__(self, clip: float) -> None:
        if not clip > 0:
            raise ConfigError(f"clip must be > 0, got {clip}", hint="the WGAN paper uses --set clip=0.01")
        self.clip = float(clip)

    @torch.no_grad()
    def after_critic_step(self, critic: nn.Module) -> None:
        for p in critic.parameters():
            p.clamp_(-self.clip, self.clip)


def per_sample_uniform(batch: Tensor) -> Tensor:
    """eps ~ U[0, 1], one per sample, shaped to broadcast over every non-batch dim ([B, 1, 1, 1] for images)."""
    return torch.rand((batch.shape[0],) + (1,) * (batch.dim() - 1), device=batch.device, dtype=batch.dtype)


def interpolate(real: Tensor, fake: Tensor) -> Tensor:
    """x^ = eps x + (1 - eps) x~ with one eps per sample; x~ detached; x^ requires grad."""
    eps = per_sample_uniform(real)
    return (eps * real + (1 - eps) * fake.detach()).requires_grad_(True)


def critic_gradient_norms(critic: nn.Module, x_hat: Tensor) -> Tensor:
    """|grad_x f(x^)|_2 per sample, over all non-batch dims, with the graph kept for the double backward."""
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return grad.flatten(1).norm(2, dim=1)


class GradientPenalty(Constraint):
    """WGAN-GP (two-sided): lambda E (|grad f(x^)| - 1)^2; one-sided (WGAN-LP): lambda E max(0, |grad f(x^)| - 1)^2."""

    forbids_critic_batchnorm = True

    def __init__(self, lambda_: float, one_sided: bool) -> None:
        if not lambda_ >= 0:
            raise ConfigError(f"lambda must be >= 0, got {lambda_}", hint="the WGAN-GP paper uses --set lambda=10")
        self.lambda_ = float(lambda_)
        self.one_sided = one_sided

    def penalty(self, critic: nn.Module, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
        norms = critic_gradient_norms(critic, interpolate(real, fake))
        excess = norms - 1.0
        if self.one_sided:
            excess = F.relu(excess)
        return self.lambda_ * excess.pow(2).mean(), norms


# --- factories and registration -------------------------------------------------------------------------------


def minimax() -> ComposedLoss:
    return ComposedLoss(MinimaxObjective())


def non_saturating() -> ComposedLoss:
    return ComposedLoss(NonSaturatingObjective())


def wgan(clip: float = 0.01) -> ComposedLoss:
    return ComposedLoss(WassersteinObjective(), WeightClipping(clip))


PENALTY_OPTIONS = {"lambda": 10.0}


def penalty_options(loss: str, options: dict[str, float]) -> dict[str, float]:
    """The penalty factories take ``**options`` because ``lambda`` is a Python keyword; any other keyword (e.g. a
    misspelled ``lamda``) is refused, with the closest option named, as a plain signature would refuse it."""
    unknown = sorted(set(options) - set(PENALTY_OPTIONS))
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(PENALTY_OPTIONS), n=1, cutoff=0.5)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(f"loss {loss!r} has no option {unknown[0]!r}",
                          hint=f"{hint}its options are: {', '.join(PENALTY_OPTIONS)} (e.g. {loss.replace('-', '_')}"
                               f"(**{{'lambda': 10.0}}) in Python, --set lambda=10 on the command line)")
    return {**PENALTY_OPTIONS, **options}


def wgan_gp(**options: float) -> ComposedLoss:
    chosen = penalty_options("wgan-gp", options)
    return ComposedLoss(WassersteinObjective(), GradientPenalty(chosen["lambda"], one_sided=False))


def wgan_lp(**options: float) -> ComposedLoss:
    chosen = penalty_options("wgan-lp", options)
    return ComposedLoss(WassersteinObjective(), GradientPenalty(chosen["lambda"], one_sided=True))


GAN_TRAINING = TrainingDefaults(optimizer="adam", lr=2e-4, betas=(0.5, 0.999), n_critic=1, batch_size=64)
WGAN_TRAINING = TrainingDefaults(optimizer="rmsprop", lr=5e-5, betas=None, n_critic=5, batch_size=64)
GP_TRAINING = TrainingDefaults(optimizer="adam", lr=1e-4, betas=(0.0, 0.9), n_critic=5, batch_size=64)


@hookimpl
def register_losses(register) -> None:  # noqa: ANN001 - the hook's callback
    register(LossSpec(
        name="minimax", factory=minimax, training=GAN_TRAINING, family="gan", paper=GOODFELLOW,
        description="The original minimax game; the generator's gradient vanishes when D(G(z)) -> 0."))
    register(LossSpec(
        name="non-saturating", aliases=("ns", "nsgan"), factory=non_saturating, training=GAN_TRAINING,
        family="gan", paper=GOODFELLOW,
        description="Same discriminator as minimax; the generator minimises -log D(G(z))."))
    register(LossSpec(
        name="wgan", factory=wgan, training=WGAN_TRAINING, family="wgan", options={"clip": 0.01}, paper=ARJOVSKY,
        description="Wasserstein critic kept Lipschitz by clipping every weight to [-clip, clip]."))
    register(LossSpec(
        name="wgan-gp", factory=wgan_gp, training=GP_TRAINING, family="penalty", options=dict(PENALTY_OPTIONS),
        paper=GULRAJANI, description="Wasserstein critic with the two-sided gradient penalty lambda (|grad f| - 1)^2."))
    register(LossSpec(
        name="wgan-lp", aliases=("one-sided",), factory=wgan_lp, training=GP_TRAINING, family="penalty",
        options=dict(PENALTY_OPTIONS), paper=PETZKA,
        description="Wasserstein critic with the one-sided penalty lambda max(0, |grad f| - 1)^2."))
