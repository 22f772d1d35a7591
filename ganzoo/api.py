"""The Python API behind every CLI command: the CLI parses and prints, these functions do the work."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ganzoo.config import TrainConfig, parse_sets, resolve_config
from ganzoo.errors import GanzooError
from ganzoo.plugins import get_registry
from ganzoo.registry import Registry
from ganzoo.store import ModelStore, validate_name
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
          echo: Callable[[str], None] = print, registry: Registry | None = None, name: str | None = None,
          register: bool = True, store: ModelStore | None = None, **overrides: Any) -> RunResult:
    """Train ``arch`` with ``loss`` on ``dataset``; returns where everything was written.

    ``overrides``: steps, batch_size, lr, n_critic, seed, device, latent_dim, sample_every, checkpoint_every, ...
    A finished run is registered in the model store (``store``, default ``GANZOO_HOME``) as ``name`` (default
    ``{arch}-{loss}-{dataset}``) unless ``register`` is False; ``result.record`` is then its :class:`ModelRecord`.
    """
    if name is not None:
        validate_name(name)  # fail before training, not after
    registry = registry or get_registry()
    config = make_config(arch, loss, dataset, sets=sets, registry=registry, **overrides)
    run_dir = Path(out) if out is not None else default_run_dir(config)
    if (run_dir / "config.json").exists():  # never mix two runs' logs and checkpoints in one folder
        raise GanzooError(f"{run_dir} already holds a ganzoo run",
                          hint=f"continue it with --resume {run_dir}, or pass another --out (or none: a new folder)")
    result = Trainer(config, registry, run_dir, progress=progress, echo=echo).run()
    return _register(result, register, name, store, registry, echo)


def resume(run_dir: str | Path, *, progress: bool = True, echo: Callable[[str], None] = print,
           registry: Registry | None = None, name: str | None = None, register: bool = True,
           store: ModelStore | None = None) -> RunResult:
    """Continue ``run_dir`` from its newest checkpoint to the configured number of steps (then register it)."""
    if name is not None:
        validate_name(name)
    registry = registry or get_registry()
    result = Trainer.resume(run_dir, registry, progress=progress, echo=echo).run()
    return _register(result, register, name, store, registry, echo)


def _register(result: RunResult, register: bool, name: str | None, store: ModelStore | None,
              registry: Registry, echo: Callable[[str], None]) -> RunResult:
    """Store a finished run's model; an interrupted run is not stored (resume it, and it is stored then).

    A store that cannot take the model (e.g. GANZOO_HOME not writable) does not lose the run: it is reported in
    ``result.notes`` and the run directory can be stored later with ``ganzoo models import RUN_DIR``.
    """
    if register and not result.interrupted:
        try:
            result.record = (store or ModelStore()).register(result.run_dir, name, registry=registry)
        except GanzooError as exc:
            note = (f"the model was not stored: {exc.message} (store it later with "
                    f"`ganzoo models import {result.run_dir}`)")
            result.notes.append(note)
            echo(f"warning: {note}")
    return result
