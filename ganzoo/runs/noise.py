"""The latent noise behind every "same seed, same samples": sampling, evaluation and the server all draw it here,
and push it through a generator in the same chunks, so the same seed gives the same numbers everywhere.

Every forward pass gets a multiple of :data:`ROW_BLOCK` rows (the noise padded with zero rows, whose outputs are
dropped). float32 matrix kernels on the CPU take a different code path, and so round differently in the last bit,
for a handful of rows than for many; in blocks of 16 rows a sample's numbers do not depend on how many other rows
share its forward pass. That is what lets the sampling server join requests into one batch and still hand each
caller exactly the bytes ``ganzoo sample`` writes (``tests/test_batching.py`` checks it on the machine it runs on).
Padding is harmless only for a generator in eval mode (batch norm then uses its running statistics), which is how
every caller here runs one.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ganzoo.errors import ConfigError

#: Seeds are whole numbers 0 to 2**32 - 1 everywhere (CLI, Python API, the sampling page).
MAX_SEED = 2**32 - 1
#: Samples per forward pass when drawing many: memory stays bounded, and every caller splits the noise alike.
SAMPLE_CHUNK = 500
#: Rows per forward pass are a multiple of this (see above).
ROW_BLOCK = 16


def check_seed(seed: object, what: str = "seed") -> int:
    """``seed`` as an int in 0..MAX_SEED, else a :class:`ConfigError` naming the range."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"{what} must be a whole number from 0 to {MAX_SEED}, got {seed!r}", hint=f"e.g. --{what} 0")
    return seed


def seeded_noise(n: int, latent_dim: int, seed: int) -> Tensor:
    """``[n, latent_dim]`` standard normal noise from a CPU ``torch.Generator`` seeded with ``seed`` (the same on
    every device, since it is drawn on the CPU); the global RNG is untouched."""
    return torch.randn(n, latent_dim, generator=torch.Generator(device="cpu").manual_seed(check_seed(seed)))


def padded_rows(n: int) -> int:
    """``n`` rounded up to a multiple of :data:`ROW_BLOCK`."""
    return -(-n // ROW_BLOCK) * ROW_BLOCK


def pad_rows(z: Tensor) -> Tensor:
    """``z`` with zero rows appended up to :func:`padded_rows` rows (``z`` itself if none are needed)."""
    extra = padded_rows(len(z)) - len(z)
    return z if not extra else torch.cat([z, z.new_zeros(extra, *z.shape[1:])])


@torch.no_grad()
def generate_in_chunks(generator: Callable[[Tensor], Tensor], z: Tensor, device: torch.device | str = "cpu",
                       chunk: int = SAMPLE_CHUNK) -> Tensor:
    """``generator`` applied to ``z`` in chunks of ``chunk`` rows (each padded by :func:`pad_rows`), the results
    (float32, CPU) concatenated."""
    return torch.cat([generator(pad_rows(part).to(device))[:len(part)].float().cpu() for part in z.split(chunk)])
