"""``dcgan-sn``: ganzoo's DCGAN generator with a spectrally normalised critic (Miyato et al. 2018).

Every convolution of the critic has its weight divided by an estimate of its largest singular value
(``torch.nn.utils.parametrizations.spectral_norm``: one power iteration per training forward, the paper's choice),
which bounds the critic's Lipschitz constant without a penalty or weight clipping. The critic has no batch norm, so
every loss (gradient penalties included) can use it. The generator is ganzoo's DCGAN generator, unchanged.

The network shapes come from ganzoo's built-in DCGAN (``ganzoo_plugins.architectures.build_dcgan``, installed with
ganzoo), so ``dcgan-sn`` supports the same square sizes (28, 32, 64) and channel counts (1, 3) and refuses others
with the same clear error.
"""

from __future__ import annotations

from collections.abc import Sequence

from ganzoo import ArchitectureSpec, hookimpl
from ganzoo.errors import ConfigError
from ganzoo_plugins.architectures import DCGAN_BASES, GENERATOR_NORMS, build_dcgan, check_choice, is_positive_int
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

GANZOO_API_VERSION = 1

MIYATO = "Miyato et al. 2018, Spectral Normalization for Generative Adversarial Networks (arXiv:1802.05957)"
NAME = "dcgan-sn"


def dcgan_sn(shape: Sequence[int], latent_dim: int, *, width: int = 64, generator_norm: str = "batch",
             power_iterations: int = 1) -> tuple[nn.Module, nn.Module]:
    """(generator, critic): the DCGAN pair for ``shape``, every critic convolution spectrally normalised."""
    check_choice(NAME, "generator_norm", generator_norm, GENERATOR_NORMS)
    if not is_positive_int(power_iterations):
        raise ConfigError(f"{NAME}: power_iterations must be a whole number >= 1, got {power_iterations!r}",
                          hint="the paper uses --set power_iterations=1")
    generator, critic = build_dcgan(NAME, shape, latent_dim, width, generator_norm, critic_norm="none")
    for module in list(critic.modules()):
        if isinstance(module, nn.Conv2d):
            spectral_norm(module, n_power_iterations=power_iterations)
    return generator, critic


@hookimpl
def register_architectures(register) -> None:  # noqa: ANN001 - the hook's callback
    register(ArchitectureSpec(
        name=NAME, factory=dcgan_sn, latent_dim=100, image_sizes=tuple(DCGAN_BASES), points=False,
        options={"width": 64, "generator_norm": "batch", "power_iterations": 1}, paper=MIYATO,
        description="DCGAN generator (batch norm, ReLU, tanh) with a critic whose every convolution is spectrally "
                    "normalised and which has no batch norm; 28, 32 or 64 px, 1 or 3 channels."))
