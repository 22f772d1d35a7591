"""Turn a :class:`TrainConfig` into live objects through the registry: loss, data, generator, critic, optimizers and
lr schedules, on the run's device. The trainer receives them built (:class:`Parts`) and builds nothing itself."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ganzoo.errors import ConfigError, is_out_of_memory, memory_error
from ganzoo.plugin.data import RealData
from ganzoo.plugin.loss import GANLoss, check_real_batch_signature
from ganzoo.plugin.registry import Registry
from ganzoo.runs.config import USER_SOURCES, TrainConfig
from ganzoo.runs.device import select_device
from ganzoo.runs.precision import Precision, make_precision
from ganzoo.train.averaging import GeneratorAverage
from ganzoo.train.distributed import Ranks, check_sync_batchnorm


def has_batchnorm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


def enforce_critic_requirements(config: TrainConfig, registry: Registry, loss: GANLoss) -> None:
    """A loss that forbids batch norm in the critic gets layer norm instead (the WGAN-GP paper's choice).

    The switch is recorded in ``config.sources`` and ``config.notes`` (citing the loss's own paper, as its plugin
    registered it); asking for batch norm explicitly is an error.
    """
    if not loss.forbids_critic_batchnorm:
        return
    option = registry.arch(config.arch).critic_norm_option
    if option is None or config.arch_options.get(option) != "batch":
        return
    key = f"arch.{option}"
    if config.sources.get(key) in USER_SOURCES or config.sources.get(option) in USER_SOURCES:
        raise ConfigError(
            f"loss {config.loss!r} forbids batch norm in the critic (it couples the samples; the penalty is per "
            "sample), but batch norm was asked for", hint=f"use --set {option}=layer or --set {option}=none")
    config.arch_options[option] = "layer"
    config.sources[key] = f"required by loss {config.loss!r}"
    paper = registry.loss(config.loss).paper
    config.notes.append(f"critic normalisation: batch norm replaced by layer norm because loss {config.loss!r} "
                        "forbids batch norm in the critic" + (f" ({paper})" if paper else ""))


@dataclass
class Parts:
    """Everything a run trains with, built and on ``device``."""

    loss: GANLoss
    data: RealData
    generator: nn.Module
    critic: nn.Module
    device: torch.device
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    schedulers: list[torch.optim.lr_scheduler.LambdaLR]
    #: The processes training this run together (torchrun); one by default.
    ranks: Ranks = field(default_factory=Ranks)
    #: The generator's moving average (``--set ema=DECAY``), None when off.
    ema: GeneratorAverage | None = None
    #: How the networks do their arithmetic (--precision, --channels-last, --compile); plain fp32 by default.
    precision: Precision = field(default_factory=Precision)


def build_parts(config: TrainConfig, registry: Registry, ranks: Ranks | None = None) -> Parts:
    """Build everything a run needs on its device (``config.device``); the config is completed first (a loss's
    critic requirement, recorded in its sources and notes). With ``ranks`` of several processes and
    ``config.sync_batchnorm``, batch norm layers become SyncBatchNorm (same parameters and state-dict keys)."""
    ranks = ranks or Ranks()
    device = select_device(config.device)
    check_sync_batchnorm(config.sync_batchnorm, str(device), ranks)
    loss, data, generator, critic = build_components(config, registry, device)
    if config.sync_batchnorm and ranks.distributed:
        generator, critic = (nn.SyncBatchNorm.convert_sync_batchnorm(net) for net in (generator, critic))
    precision = make_precision(config, device, loss)
    generator, critic = precision.prepare(generator), precision.prepare(critic)
    lr_g, lr_d = config.learning_rates()
    opt_g, opt_d = make_optimizer(config, generator.parameters(), lr_g), make_optimizer(config, critic.parameters(),
                                                                                          lr_d)
    ema = GeneratorAverage(generator, config.ema, config.ema_start, bn=config.ema_bn, batch_size=config.batch_size,
                           latent_dim=config.latent_dim) if config.ema > 0 else None
    return Parts(loss, data, generator, critic, device, opt_g, opt_d,
                 [make_scheduler(config, opt) for opt in (opt_g, opt_d)], ranks, ema, precision)


def build_components(config: TrainConfig, registry: Registry, device: torch.device
                     ) -> tuple[GANLoss, RealData, nn.Module, nn.Module]:
    """(loss, data, generator, critic) on ``device``; the config is completed (critic norm) before the networks are
    built."""
    loss = registry.loss(config.loss).factory(**config.loss_options)
    check_real_batch_signature(loss, config.loss)
    enforce_critic_requirements(config, registry, loss)
    data = registry.dataset(config.dataset).build(**config.dataset_options)
    check_batch_size(config, data)
    torch.manual_seed(config.seed)
    try:
        generator, critic = registry.arch(config.arch).factory(data.shape, config.latent_dim, **config.arch_options)
        if loss.forbids_critic_batchnorm and has_batchnorm(critic):
            raise ConfigError(
                f"architecture {config.arch!r} builds a critic with batch norm, which loss {config.loss!r} forbids",
                hint=f"use --set {registry.arch(config.arch).critic_norm_option or 'critic_norm'}=none if the "
                     "architecture has that option, or an architecture without batch norm in the critic (e.g. mlp)")
        return loss, data.to(device), generator.to(device), critic.to(device)
    except Exception as exc:
        if is_out_of_memory(exc):
            raise memory_error(exc, f"building {config.arch} for {config.dataset} on {device}",
                               hint="lower the networks' width (--set width=N) or use a device with more memory") \
                from exc
        raise


def check_batch_size(config: TrainConfig, data: RealData) -> None:
    """A finite data set must hold at least one batch (an epoch drops the last partial batch)."""
    size = data.size
    if size is not None and config.batch_size > size:
        raise ConfigError(f"batch size {config.batch_size} is larger than data set {config.dataset!r} "
                          f"({size} samples)", hint=f"use --batch-size {size} or less")


def make_optimizer(config: TrainConfig, params: object, lr: float | None = None) -> torch.optim.Optimizer:
    """The loss's optimiser over ``params`` at ``lr`` (default ``config.lr``)."""
    lr = config.lr if lr is None else lr
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)  # type: ignore[arg-type]
    betas = (float(config.betas[0]), float(config.betas[1]))  # type: ignore[index]
    return torch.optim.Adam(params, lr=lr, betas=betas)  # type: ignore[arg-type]


def make_scheduler(config: TrainConfig, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LambdaLR:
    """Stepped once per generator step: constant, or linear decay to 0 at the last step."""
    if config.lr_schedule == "linear":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: max(0.0, 1.0 - step / config.steps))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
