"""The latent noise behind every "same seed, same samples": sampling, evaluation and the server all draw it here."""

from __future__ import annotations

import torch
from torch import Tensor


def seeded_noise(n: int, latent_dim: int, seed: int) -> Tensor:
    """``[n, latent_dim]`` standard normal noise from a CPU ``torch.Generator`` seeded with ``seed`` (the same on
    every device, since it is drawn on the CPU); the global RNG is untouched."""
    return torch.randn(n, latent_dim, generator=torch.Generator(device="cpu").manual_seed(int(seed)))
