"""The Python API behind every CLI command: the CLI parses and prints, these functions do the work."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ganzoo.config import TrainConfig, parse_sets, resolve_config
from ganzoo.plugins import get_registry
from ganzoo.registry import Registry
from ganzoo.trainer import RunResult, Trainer

DEFAULT_DATASET = "fashion-mnist"


def default_run_dir(config: TrainConfig, root: str | Path = "runs") -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{config.arch}-{config.loss}-{config.dataset}-{stamp}"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def make_config(arch: str, loss: str, dataset: str = DEFAULT_DATASET, *, sets: Sequence[str] | Mapping[str, Any] = (),
                registry: Registry | None = None, **overrides: Any) -> TrainConfig:
    """Resolve a run's settings (see :func:`ganzoo.config.resolve_config`); ``overrides`` are training/run keys."""
    parsed = dict(sets) if isinstance(sets, Mapping) else parse_sets(sets)
    return resolve_config(registry or get_registry(), arch, loss, dataset, overrides, parsed)


def train(arch: str, loss: str, dataset: str = DEFAULT_DATASET, *, out: str | Path | None = None,
          sets: Sequence[str] | Mapping[str, Any] = (), progress: bool = True,
          echo: Callable[[str], None] = print, registry: Registry | None = None, **overrides: Any) -> RunResult:
    """Train ``arch`` with ``loss`` on ``dataset``; returns where everything was written.

    ``overrides``: steps, batch_size, lr, n_critic, seed, device, latent_dim, sample_every, checkpoint_every, ...
    """
    registry = registry or get_registry()
    config = make_config(arch, loss, dataset, sets=sets, registry=registry, **overrides)
    run_dir = Path(out) if out is not None else default_run_dir(config)
    return Trainer(config, registry, run_dir, progress=progress, echo=echo).run()


def resume(run_dir: str | Path, *, progress: bool = True, echo: Callable[[str], None] = print,
           registry: Registry | None = None) -> RunResult:
    """Continue ``run_dir`` from its newest checkpoint to the configured number of steps."""
    return Trainer.resume(run_dir, registry or get_registry(), progress=progress, echo=echo).run()
