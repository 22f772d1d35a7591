"""One case of the training benchmark (architecture + loss) as ganzoo resolves it, for both loops: the config, the
networks both train, ganzoo's loop, the reference loop on the same networks, and the check that the two train the
same thing.

This is the only module of the training benchmarks (bench_training.py, bench_precision.py) that imports ganzoo, and it
does so here at the top: a moved ganzoo module is updated in these lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import reference_gan
import torch
from harness import Step

from ganzoo.api import make_config, make_trainer
from ganzoo.plugin.loading import get_registry
from ganzoo.runs.precision import differentiates_critic_gradient, fast_bf16
from ganzoo.train.build import enforce_critic_requirements

DATASET = "fashion-mnist"
SHAPE = (1, 28, 28)
BATCH = 64
SEED = 0
#: The configs' step count: only sets when a run would write samples and checkpoints (never, here) and the lr
#: schedule (constant for every loss benchmarked), so any large number does.
CONFIG_STEPS = 100_000
IMPLS = ("ganzoo", "reference")


def load_plugins() -> None:
    """Build ganzoo's plugin registry (once per process): a measuring process does it before its memory baseline,
    whichever loop it runs."""
    get_registry()


def case_config(arch: str, loss: str, device: str, registry: Any, **arithmetic: Any) -> Any:
    """The case's ganzoo config: the benchmark's data set, batch, seed and device, the rest ganzoo's defaults;
    ``arithmetic``: precision, channels_last, compile (benchmarks/bench_precision.py)."""
    return make_config(arch, loss, DATASET, registry=registry, steps=CONFIG_STEPS, batch_size=BATCH, device=device,
                       seed=SEED, **arithmetic)


def resolved_config(arch: str, loss: str, device: str) -> tuple[Any, Any, Any]:
    """(config, registry, loss plugin object) exactly as ganzoo's trainer completes them.

    ``build_parts`` calls ``enforce_critic_requirements`` (batch norm -> layer norm in the critic for
    gradient-penalty losses); the reference calls the same function so its networks get the identical options.
    """
    registry = get_registry()
    config = case_config(arch, loss, device, registry)
    loss_obj = registry.loss(config.loss).factory(**config.loss_options)
    enforce_critic_requirements(config, registry, loss_obj)
    return config, registry, loss_obj


def build_networks(config: Any, registry: Any, device: Any) -> tuple[Any, Any]:
    """The generator and critic from the architecture plugin, seeded as ganzoo's ``build_components`` seeds them."""
    torch.manual_seed(config.seed)
    generator, critic = registry.arch(config.arch).factory(SHAPE, config.latent_dim, **config.arch_options)
    return generator.to(device), critic.to(device)


def ganzoo_loop(arch: str, loss: str, device: str, run_dir: Path, **arithmetic: Any) -> Step:
    """``Trainer.train_step``, the method ``Trainer.run()`` calls once per generator step (``arithmetic``: the
    precision, channels_last and compile settings, default fp32)."""
    registry = get_registry()
    config = case_config(arch, loss, device, registry, **arithmetic)
    reference_gan.check_paper_settings(config, loss)
    trainer = make_trainer(config, registry, run_dir, progress=False)
    trainer.generator.train()
    trainer.critic.train()
    return trainer.train_step


def reference_loop(arch: str, loss: str, device: str, data_root: Path, workers: int) -> Step:
    """The reference loop on the networks ganzoo would train for this case."""
    config, registry, _ = resolved_config(arch, loss, device)
    reference_gan.check_paper_settings(config, loss)
    generator, critic = build_networks(config, registry, torch.device(device))
    return reference_gan.make_loop(loss, generator, critic, latent_dim=config.latent_dim, batch=BATCH,
                                   device=torch.device(device), data_root=data_root, workers=workers)


def check_losses(cases: Sequence[tuple[str, str]], device_name: str) -> list[str]:
    """Reference losses == ganzoo's loss plugins (values and critic gradients) on identical networks and batches."""
    device = torch.device(device_name)
    lines = []
    for arch, loss in cases:
        config, registry, loss_obj = resolved_config(arch, loss, device_name)
        generator, critic = build_networks(config, registry, device)
        gen = torch.Generator().manual_seed(1)
        real = (torch.rand((16, *SHAPE), generator=gen) * 2 - 1).to(device)
        with torch.no_grad():
            fake = generator(torch.randn(16, config.latent_dim, generator=gen).to(device))
        results = []
        for impl in IMPLS:
            critic.zero_grad(set_to_none=True)
            torch.manual_seed(7)  # the same eps for the gradient penalty
            if impl == "ganzoo":
                value = loss_obj.critic_loss(critic, real, fake).loss
            else:
                value = reference_gan.critic_loss(loss, critic, real, fake)
            value.backward()
            grads = torch.cat([p.grad.flatten() for p in critic.parameters()])
            g_value = (loss_obj.generator_loss(critic, fake) if impl == "ganzoo"
                       else reference_gan.generator_loss(loss, critic, fake))
            results.append((value.detach(), grads, g_value.detach()))
        (v1, g1, gl1), (v2, g2, gl2) = results
        ok = (torch.allclose(v1, v2, rtol=1e-4, atol=1e-6) and torch.allclose(g1, g2, rtol=1e-3, atol=1e-6)
              and torch.allclose(gl1, gl2, rtol=1e-4, atol=1e-6))
        if not ok:
            raise SystemExit(f"{arch}+{loss}: the reference loss differs from ganzoo's (critic {v1.item()} vs "
                             f"{v2.item()}, generator {gl1.item()} vs {gl2.item()}, max grad diff "
                             f"{(g1 - g2).abs().max().item():.3g})")
        lines.append(f"{arch}+{loss}: critic loss {v1.item():.6g} == {v2.item():.6g}, generator loss "
                     f"{gl1.item():.6g} == {gl2.item():.6g}, critic grads max diff {(g1 - g2).abs().max().item():.2g}"
                     f"; critic options {config.arch_options}")
    return lines


def arithmetic_settings(variant: str, loss: str) -> dict[str, Any]:
    """ganzoo's settings for a bench_precision.py variant: ``fp32``, ``bf16``, ``fp16``, with ``+cl``
    (channels-last) or ``+compile`` (the generator; and the critic when the loss has no gradient penalty)."""
    settings: dict[str, Any] = {"precision": variant.split("+")[0]}
    if "+cl" in variant:
        settings["channels_last"] = True
    if "+compile" in variant:
        spec = get_registry().loss(loss)
        settings["compile"] = "generator" if differentiates_critic_gradient(spec.factory(**spec.options)) else "both"
    return settings


def bf16_speed(device: str) -> tuple[bool | None, str]:
    """Whether ``device`` has fast bf16 arithmetic, and why (ganzoo's own check)."""
    return fast_bf16(torch.device(device))
