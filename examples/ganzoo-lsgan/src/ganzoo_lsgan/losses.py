"""The least-squares GAN and hinge losses, as ganzoo objectives.

| name | critic minimises | generator minimises | defaults |
|---|---|---|---|
| lsgan | 1/2 E (D(x) - b)^2 + 1/2 E (D(G(z)) - a)^2 | 1/2 E (D(G(z)) - c)^2 | a=0, b=c=1; Adam 2e-4 (0.5, 0.999), k=1 |
| hinge | E max(0, 1 - D(x)) + E max(0, 1 + D(G(z))) | -E D(G(z)) | Adam 2e-4 (0.0, 0.9), k=5 |

``lsgan`` is Mao et al.'s equation (2) with the 0-1 coding of their equation (9) (a = 0 for fakes, b = 1 for real
data, c = 1: the generator wants its fakes scored as real), and the paper's optimiser: Adam, learning rate 2e-4,
beta1 0.5, one critic step per generator step. ``a``, ``b`` and ``c`` are options (``--set a=-1 --set c=0`` gives
the paper's equation (8) coding, b - c = 1 and b - a = 2, under which minimising the objective minimises the
Pearson chi^2 divergence).

Both take raw critic scores (no sigmoid), which is what every ganzoo architecture returns; neither constrains the
critic, so they pair naturally with a spectrally normalised critic such as ``dcgan-sn``.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from ganzoo import LossSpec, TrainingDefaults, hookimpl
from ganzoo.errors import ConfigError
from ganzoo.loss import ComposedLoss, Objective
from torch import Tensor

#: The ganzoo hook API this plugin is written for; ganzoo refuses the plugin, with a message, if it speaks another.
GANZOO_API_VERSION = 1

MAO = "Mao et al. 2017, Least Squares Generative Adversarial Networks (arXiv:1611.04076)"
LIM_YE = ("Lim & Ye 2017, Geometric GAN (arXiv:1705.02894); as used by Miyato et al. 2018, Spectral Normalization "
          "for Generative Adversarial Networks (arXiv:1802.05957)")

LSGAN_TRAINING = TrainingDefaults(optimizer="adam", lr=2e-4, betas=(0.5, 0.999), n_critic=1, batch_size=64)
HINGE_TRAINING = TrainingDefaults(optimizer="adam", lr=2e-4, betas=(0.0, 0.9), n_critic=5, batch_size=64)


class LeastSquaresObjective(Objective):
    """Mao et al.'s least squares: scores are regressed onto the targets ``b`` (real) and ``a`` (fake)."""

    def __init__(self, a: float = 0.0, b: float = 1.0, c: float = 1.0) -> None:
        for key, value in (("a", a), ("b", b), ("c", c)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ConfigError(f"loss 'lsgan': {key} must be a finite number, got {value!r}",
                                  hint="the paper's coding is --set a=0 --set b=1 --set c=1")
        if not b > a:
            raise ConfigError(f"loss 'lsgan': the real target b must be above the fake target a, got a={a}, b={b}",
                              hint="use a=0, b=1 (or a=-1, b=1)")
        self.a, self.b, self.c = float(a), float(b), float(c)

    def critic(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return 0.5 * (real_scores - self.b).pow(2).mean() + 0.5 * (fake_scores - self.a).pow(2).mean()

    def generator(self, fake_scores: Tensor) -> Tensor:
        return 0.5 * (fake_scores - self.c).pow(2).mean()


class HingeObjective(Objective):
    """The hinge loss: the critic is penalised only inside the margin, the generator raises its fakes' scores."""

    def critic(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return F.relu(1.0 - real_scores).mean() + F.relu(1.0 + fake_scores).mean()

    def generator(self, fake_scores: Tensor) -> Tensor:
        return -fake_scores.mean()


def lsgan(a: float = 0.0, b: float = 1.0, c: float = 1.0) -> ComposedLoss:
    return ComposedLoss(LeastSquaresObjective(a, b, c))


def hinge() -> ComposedLoss:
    return ComposedLoss(HingeObjective())


@hookimpl
def register_losses(register) -> None:  # noqa: ANN001 - the hook's callback
    register(LossSpec(
        name="lsgan", aliases=("least-squares",), factory=lsgan, training=LSGAN_TRAINING,
        options={"a": 0.0, "b": 1.0, "c": 1.0}, paper=MAO,
        description="Least-squares GAN: the critic regresses real scores onto b and fake ones onto a; the "
                    "generator pulls its fakes' scores to c. Paper defaults a=0, b=c=1, Adam 2e-4 (0.5, 0.999)."))
    register(LossSpec(
        name="hinge", factory=hinge, training=HINGE_TRAINING, paper=LIM_YE,
        description="Hinge loss: critic E max(0, 1 - D(x)) + E max(0, 1 + D(G(z))), generator -E D(G(z)); "
                    "usually with a spectrally normalised critic (dcgan-sn)."))
