"""Generator averaging: an exponential moving average (EMA) of the generator's weights (Yazici et al. 2019, The
Unusual Effectiveness of Averaging in GAN Training, arXiv:1806.04498).

After every generator step ``t`` (counted from 1) past ``start``::

    theta_ema <- decay * theta_ema + (1 - decay) * theta_t

and up to step ``start`` the average is a copy of the raw generator (``start=0``: the average starts from the
initial weights, the paper's theta_ema^(0) = theta^(0)). The averaged generator never trains: it is only sampled.

Normalisation statistics (batch norm's running mean and variance), ``ema_bn``:

- ``recompute`` (the default): only the parameters are averaged. Whenever the averaged generator is handed out
  (:meth:`GeneratorAverage.averaged`: every checkpoint, hence the final save and the stored model's
  ``generator_ema.safetensors``), the running statistics of its normalisation layers are recomputed for ITS OWN
  weights ("standing statistics"): reset, then a cumulative average (batch ``k`` weighs ``1/k``, which is what
  ``momentum=None`` does) over :data:`STANDING_BATCHES` forward passes of the run's latent noise (standard normal,
  ``[batch_size, latent_dim]``, as the trainer draws it) from a FIXED seeded ``torch.Generator``, the normalisation
  layers in train mode and every other layer in eval mode, without autograd. The statistics are then a function of
  the averaged weights alone, so a resumed run writes the same bytes as an uninterrupted one. This is the
  batch-norm update of SWA (Izmailov et al. 2018, Averaging Weights Leads to Wider Optima and Better Generalization,
  arXiv:1803.05407; ``torch.optim.swa_utils.update_bn``) and BigGAN's standing statistics (Brock et al. 2019,
  arXiv:1809.11096). A generator without such layers costs nothing.
- ``average`` (what ganzoo did before, kept as an option): floating-point buffers are averaged with the same
  decay as the weights (torch's ``AveragedModel(use_buffers=True)``); integer buffers (``num_batches_tracked``) are
  copied. Averaged statistics do not belong to the averaged weights (docs/science.md, "Generator averaging").

Layers recomputed: every ``torch.nn.modules.batchnorm._NormBase`` that tracks running statistics, i.e. any
``_BatchNorm`` subclass (BatchNorm1d/2d/3d, SyncBatchNorm, the lazy ones) and InstanceNorm with
``track_running_stats=True`` (whose ``momentum=None`` would NOT accumulate, hence the explicit ``1/k``).
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.modules.batchnorm import _NormBase

from ganzoo.runs.config import EMA_BN_AVERAGE, EMA_BN_RECOMPUTE

#: Forward passes behind the recomputed statistics. Measured (docs/averaging.md): for dcgan (width 64, batch 64) the
#: averaged generator's FID is within 1 of the 100-pass value from 50 passes on, and 50 passes take about 1.1 s of
#: CPU time on one thread.
STANDING_BATCHES = 50
#: Seed of the noise the statistics are recomputed from: the same noise every time, in every run.
STANDING_SEED = 20190928


def normalisation_layers(module: nn.Module) -> list[_NormBase]:
    """The layers of ``module`` whose eval-mode output depends on running statistics (batch norm of any kind, and
    instance norm with ``track_running_stats=True``)."""
    return [m for m in module.modules() if isinstance(m, _NormBase) and m.track_running_stats
            and m.running_mean is not None]


@torch.no_grad()
def recompute_statistics(generator: nn.Module, batch_size: int, latent_dim: int, *,
                         batches: int = STANDING_BATCHES, seed: int = STANDING_SEED,
                         device: torch.device | str | None = None) -> bool:
    """Recompute, in place, the running statistics of ``generator``'s normalisation layers for its present weights:
    a cumulative average over ``batches`` forward passes of ``[batch_size, latent_dim]`` standard normal noise drawn
    on the CPU from a ``torch.Generator`` seeded with ``seed`` (the same numbers on every device), moved to
    ``device`` (default: where the generator's first parameter is). Only the normalisation layers run in train mode;
    every module's mode and every layer's momentum are restored afterwards; torch's global RNG is not used. Returns
    whether there was anything to recompute (False, at no cost, for a generator without such layers)."""
    layers = normalisation_layers(generator)
    if not layers:
        return False
    if device is None:
        device = next(iter(generator.parameters()), torch.empty(0)).device
    modes = {m: m.training for m in generator.modules()}
    momenta = [m.momentum for m in layers]
    noise = torch.Generator(device="cpu").manual_seed(seed)
    try:
        generator.eval()
        for layer in layers:
            layer.reset_running_stats()
            layer.train()
        for k in range(1, batches + 1):
            for layer in layers:  # batch k weighs 1/k: the cumulative mean (batch norm's momentum=None)
                layer.momentum = 1.0 / k
            generator(torch.randn(batch_size, latent_dim, generator=noise).to(device))
    finally:
        for layer, momentum in zip(layers, momenta, strict=True):
            layer.momentum = momentum
        for m, training in modes.items():
            m.train(training)
    return True


class GeneratorAverage:
    """The EMA of ``generator``'s parameters (and, with ``bn="average"``, of its floating-point buffers); ``module`` is
    the averaged generator, :meth:`averaged` the same with its normalisation statistics brought up to date.

    ``batch_size`` and ``latent_dim`` are the run's: the recomputed statistics come from the noise the run trains
    with (``bn="recompute"``)."""

    def __init__(self, generator: nn.Module, decay: float, start: int = 0, *, bn: str = EMA_BN_RECOMPUTE,
                 batch_size: int = 64, latent_dim: int | None = None) -> None:
        if bn not in (EMA_BN_RECOMPUTE, EMA_BN_AVERAGE):
            raise ValueError(f"bn must be {EMA_BN_RECOMPUTE!r} or {EMA_BN_AVERAGE!r}, got {bn!r}")
        self.decay = float(decay)  # checked by TrainConfig: in (0, 1)
        self.start = int(start)
        self.bn = bn
        self.batch_size = int(batch_size)
        self.latent_dim = latent_dim
        self.module = copy.deepcopy(generator).requires_grad_(False).eval()
        self._recompute = bn == EMA_BN_RECOMPUTE and bool(normalisation_layers(self.module))
        if self._recompute and latent_dim is None:
            raise ValueError("recomputing the average's normalisation statistics needs the run's latent_dim")
        self._stale = self._recompute  # statistics not yet recomputed for the present weights

    @torch.no_grad()
    def update(self, generator: nn.Module, step: int) -> None:
        """Fold in ``generator`` after generator step ``step`` (1 for the first)."""
        self._stale = self._recompute
        if step <= self.start:
            self.module.load_state_dict(generator.state_dict())
            return
        weight = 1.0 - self.decay
        for average, raw in zip(self.module.parameters(), generator.parameters(), strict=True):
            average.lerp_(raw.detach(), weight)
        if self.bn != EMA_BN_AVERAGE:
            return  # the statistics are recomputed when the average is handed out
        for average, raw in zip(self.module.buffers(), generator.buffers(), strict=True):
            if average.is_floating_point():
                average.lerp_(raw, weight)
            else:
                average.copy_(raw)

    def averaged(self) -> nn.Module:
        """The averaged generator as it is written and sampled (eval mode): with ``bn="recompute"`` its normalisation
        statistics are first recomputed for its present weights (:func:`recompute_statistics`; once per change of
        the weights)."""
        if self._stale:
            assert self.latent_dim is not None
            recompute_statistics(self.module, self.batch_size, self.latent_dim)
            self._stale = False
        return self.module

    def state_dict(self) -> dict[str, torch.Tensor]:
        """What a checkpoint keeps as ``generator_ema``: the state of :meth:`averaged`."""
        return self.averaged().state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Resume from a checkpoint's ``generator_ema`` (recomputed statistics are recomputed again when next
        handed out: they depend on the weights only, so the bytes are those of an uninterrupted run)."""
        self.module.load_state_dict(state)
        self._stale = self._recompute
