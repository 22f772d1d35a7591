"""What each rank runs in tests/test_distributed.py's exactness test, started by torchrun (gloo, CPU).

``python -m torch.distributed.run --nproc-per-node 2 --standalone tests/distributed_worker.py OUT``: in ONE process
group, for each case (every loss, every architecture: :func:`cases`) every rank builds the run exactly as
``ganzoo train`` would (e.g. global batch 64, so 32 per rank), makes one generator step with its n_critic critic
steps through the DDP-wrapped networks, and writes its parameters and the penalty's eps it drew to
``OUT/<case>/rank<R>.pt``. The test then makes the same step in one process with the global batch on the same
real samples, noise and eps, and compares.
"""

from __future__ import annotations

import sys
from pathlib import Path

import ganzoo_plugins.losses as builtin_losses
import torch

from ganzoo import api
from ganzoo.plugin.loading import get_registry
from ganzoo.train import distributed
from ganzoo.train.distributed import batchnorm_mode

DRAW_EPS = builtin_losses.per_sample_uniform
SMALL = {"mlp": {"arch.hidden": 16, "arch.layers": 2}, "dcgan": {"arch.width": 8}, "dcgan-nobn": {"arch.width": 8}}


def cases() -> dict[str, tuple[str, str, str, int]]:
    """name -> (arch, loss, data set, global batch): every loss on the MLP (exactness, batch 64); every
    architecture of the registry with a penalty loss and with minimax on 28x28 images (batch 16)."""
    registry = get_registry()
    every = {spec.name: ("mlp", spec.name, "gaussians8", 64) for spec in registry.entries("loss")}
    for arch in registry.entries("arch"):
        for loss in ("wgan-gp", "minimax"):
            every[f"{arch.name}-{loss}-digits"] = (arch.name, loss, "digits", 16)
    return every


def config_for(case: str):
    arch, loss, dataset, batch = cases()[case]
    return api.make_config(arch, loss, dataset, sets=SMALL.get(arch, {}), batch_size=batch, steps=1, device="cpu",
                           register=False)


def record_eps(drawn: list[torch.Tensor]):
    """The penalty's eps ~ U[0, 1] per sample, as the built-in loss draws it, kept in ``drawn``."""
    def recording(batch: torch.Tensor) -> torch.Tensor:
        eps = DRAW_EPS(batch)
        drawn.append(eps.clone())
        return eps

    return recording


def main(out: Path) -> None:
    torch.set_num_threads(1)
    ranks, _ = distributed.start("cpu")
    registry = get_registry()
    try:
        for case in cases():
            config = config_for(case)
            api.join_processes(config, ranks)
            trainer = api.make_trainer(config, registry, out / case, progress=False, ranks=ranks)
            drawn: list[torch.Tensor] = []
            builtin_losses.per_sample_uniform = record_eps(drawn)
            trainer.train_step()
            (out / case).mkdir(parents=True, exist_ok=True)
            torch.save({"generator": trainer.generator.state_dict(), "critic": trainer.critic.state_dict(),
                        "eps": drawn, "world_size": config.world_size,
                        "batchnorm": batchnorm_mode(trainer.generator, trainer.critic, False, 1)},
                       out / case / f"rank{ranks.rank}.pt")
        batchnorm(out / "batchnorm", registry, ranks)
    finally:
        ranks.close()


def batchnorm(out: Path, registry, ranks) -> None:
    """A DCGAN generator with per-rank batch norm: two steps, then a checkpoint; each rank's buffers before and
    after the checkpoint, and the checkpoint's."""
    config = api.make_config("dcgan", "minimax", "digits", sets={"arch.width": 8}, batch_size=16, steps=2,
                             device="cpu", register=False)
    api.join_processes(config, ranks)
    trainer = api.make_trainer(config, registry, out, progress=False, ranks=ranks)
    out.mkdir(parents=True, exist_ok=True)
    trainer._write_config()
    for _ in range(2):
        trainer.train_step()
    before = {k: v.clone() for k, v in trainer.generator.named_buffers()}
    trainer.checkpoint()
    torch.save({"before": before, "after": dict(trainer.generator.named_buffers())}, out / f"rank{ranks.rank}.pt")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
