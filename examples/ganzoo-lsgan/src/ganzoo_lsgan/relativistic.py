"""The relativistic average GAN losses RaSGAN and RaLSGAN (Jolicoeur-Martineau 2018), as ganzoo objectives.

With C the critic's raw score, the relativistic average critic compares each sample with the mean score of the
other kind: r = C(x_r) - E C(x_f) for a real sample, f = C(x_f) - E C(x_r) for a fake one (D = sigmoid of these).

| name | critic minimises | generator minimises |
|---|---|---|
| rasgan | -E log sigmoid(r) - E log(1 - sigmoid(f)) | -E log sigmoid(f) - E log(1 - sigmoid(r)) |
| ralsgan | E (r - 1)^2 + E (f + 1)^2 | E (f - 1)^2 + E (r + 1)^2 |

(the paper's section 4.2 and appendix; log sigmoid(a) = -softplus(-a), log(1 - sigmoid(a)) = -softplus(a)). The
generator's objective needs the critic's scores of real data: both objectives set
``needs_real_in_generator_step = True``, so ganzoo draws a fresh real batch for every generator step, as the
authors' code does (``GAN_losses_iter.py`` samples new images for the generator step of every relativistic loss).
The authors' code halves both objectives (``(... + ...) / 2``); ganzoo uses the paper's equations, a constant
factor 2 that Adam's update ignores except through its epsilon.

Defaults: the paper's "DCGAN setup" (its stable.sh): Adam 2e-4, betas (0.5, 0.999), one critic step, batch 32.
"""

from __future__ import annotations

import torch.nn.functional as F
from ganzoo import LossSpec, TrainingDefaults, hookimpl
from ganzoo.errors import ConfigError
from ganzoo.loss import ComposedLoss, Objective
from torch import Tensor

GANZOO_API_VERSION = 1

JOLICOEUR = ("Jolicoeur-Martineau 2018, The relativistic discriminator: a key element missing from standard GAN "
             "(arXiv:1807.00734)")
RELATIVISTIC_TRAINING = TrainingDefaults(optimizer="adam", lr=2e-4, betas=(0.5, 0.999), n_critic=1, batch_size=32)


def relative(real_scores: Tensor, fake_scores: Tensor) -> tuple[Tensor, Tensor]:
    """(r, f): each real score minus the mean fake score, each fake score minus the mean real score."""
    return real_scores - fake_scores.mean(), fake_scores - real_scores.mean()


class RelativisticObjective(Objective):
    """The relativistic average family: the generator step needs real scores."""

    needs_real_in_generator_step = True

    def scores(self, fake_scores: Tensor, real_scores: Tensor | None) -> tuple[Tensor, Tensor]:
        if real_scores is None:
            raise ConfigError(f"{type(self).__name__} needs the critic's scores of a real batch in the generator step",
                              hint="call generator(fake_scores, real_scores); ganzoo's trainer passes them")
        return relative(real_scores, fake_scores)


class RaSGANObjective(RelativisticObjective):
    """Relativistic average standard GAN: the logistic loss on r (real is more real than fake on average)."""

    def critic(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        r, f = relative(real_scores, fake_scores)
        return F.softplus(-r).mean() + F.softplus(f).mean()

    def generator(self, fake_scores: Tensor, real_scores: Tensor | None = None) -> Tensor:
        r, f = self.scores(fake_scores, real_scores)
        return F.softplus(-f).mean() + F.softplus(r).mean()


class RaLSGANObjective(RelativisticObjective):
    """Relativistic average least squares: r regressed onto 1 and f onto -1 by the critic, the other way round by
    the generator."""

    def critic(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        r, f = relative(real_scores, fake_scores)
        return (r - 1).pow(2).mean() + (f + 1).pow(2).mean()

    def generator(self, fake_scores: Tensor, real_scores: Tensor | None = None) -> Tensor:
        r, f = self.scores(fake_scores, real_scores)
        return (f - 1).pow(2).mean() + (r + 1).pow(2).mean()


def rasgan() -> ComposedLoss:
    return ComposedLoss(RaSGANObjective())


def ralsgan() -> ComposedLoss:
    return ComposedLoss(RaLSGANObjective())


@hookimpl
def register_losses(register) -> None:  # noqa: ANN001 - the hook's callback
    register(LossSpec(
        name="rasgan", factory=rasgan, training=RELATIVISTIC_TRAINING, paper=JOLICOEUR,
        description="Relativistic average standard GAN: the critic judges whether real data is more realistic "
                    "than fake data on average; the generator's loss uses the critic's scores of real data."))
    register(LossSpec(
        name="ralsgan", factory=ralsgan, training=RELATIVISTIC_TRAINING, paper=JOLICOEUR,
        description="Relativistic average least-squares GAN: C(x_r) - E C(x_f) regressed onto 1 and "
                    "C(x_f) - E C(x_r) onto -1 by the critic, the other way round by the generator."))
