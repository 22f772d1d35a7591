"""Generator averaging: an exponential moving average (EMA) of the generator's weights (Yazici et al. 2019, The
Unusual Effectiveness of Averaging in GAN Training, arXiv:1806.04498).

After every generator step ``t`` (counted from 1) past ``start``::

    theta_ema <- decay * theta_ema + (1 - decay) * theta_t

and up to step ``start`` the average is a copy of the raw generator (``start=0``: the average starts from the
initial weights, the paper's theta_ema^(0) = theta^(0)). The averaged generator never trains: it is only sampled.

Buffers (batch norm's running mean and variance) are *averaged* with the same decay, as the weights are (torch's
``AveragedModel(use_buffers=True)`` does the same); integer buffers (``num_batches_tracked``) are copied. Why
average rather than copy: in eval mode a batch-norm layer normalises with its running statistics; the raw running
statistics follow the raw generator of the last ~10 steps (momentum 0.1), while the averaged weights are a mean over
the last ~1 / (1 - decay) steps; statistics averaged over the same window as the weights belong to them better
than those of the newest raw weights.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class GeneratorAverage:
    """The EMA of ``generator``'s parameters and floating-point buffers; ``module`` is the averaged generator."""

    def __init__(self, generator: nn.Module, decay: float, start: int = 0) -> None:
        self.decay = float(decay)  # checked by TrainConfig: in (0, 1)
        self.start = int(start)
        self.module = copy.deepcopy(generator).requires_grad_(False).eval()

    @torch.no_grad()
    def update(self, generator: nn.Module, step: int) -> None:
        """Fold in ``generator`` after generator step ``step`` (1 for the first)."""
        if step <= self.start:
            self.module.load_state_dict(generator.state_dict())
            return
        weight = 1.0 - self.decay
        for average, raw in zip(self.module.parameters(), generator.parameters(), strict=True):
            average.lerp_(raw.detach(), weight)
        for average, raw in zip(self.module.buffers(), generator.buffers(), strict=True):
            if average.is_floating_point():
                average.lerp_(raw, weight)
            else:
                average.copy_(raw)
