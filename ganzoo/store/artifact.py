"""A stored model's ``config.json``: made from a finished run and checked.

The config holds everything needed to rebuild the generator from the plugin registry (architecture, its options,
latent size, sample shape, data kind; :mod:`ganzoo.runs.networks` rebuilds it) plus what a reader wants to know
about the model (loss, data set, every hyperparameter, the ganzoo, torch and plugin-distribution versions, steps,
wall time, device, the run's id).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ganzoo import __version__
from ganzoo.errors import ConfigError, GanzooError
from ganzoo.plugin.registry import Registry
from ganzoo.runs.checkpoint import load_checkpoint
from ganzoo.runs.folder import LOG_FILE, read_metrics, read_run

FORMAT = "ganzoo-model"
FORMAT_VERSION = 1
DATA_KINDS = ("images", "points")
#: Keys a config.json must have (checked before a model is imported or loaded).
REQUIRED_KEYS = ("format_version", "arch", "loss", "dataset", "latent_dim", "shape", "data_kind", "train_config",
                 "plugins")
PLUGIN_KINDS = ("arch", "loss", "dataset")


def default_name(config: Mapping[str, Any]) -> str:
    """``{arch}-{loss}-{dataset}``: the name a model gets unless one is chosen."""
    return f"{config['arch']}-{config['loss']}-{config['dataset']}"


def plugin_info(registry: Registry, kind: str, name: str) -> dict[str, Any]:
    """Name, providing distribution and version, plugin and paper of one registry entry."""
    spec = registry.get(kind, name)
    provider = spec.provider
    return {"name": spec.name, "distribution": provider.distribution if provider else None,
            "version": provider.version if provider else None, "plugin": provider.plugin if provider else None,
            "paper": spec.paper, "description": spec.description}


def from_run(run_dir: str | Path, registry: Registry) -> tuple[dict[str, Any], dict[str, torch.Tensor],
                                                               dict[str, torch.Tensor], dict[str, torch.Tensor] | None]:
    """(config, generator weights, critic weights, averaged generator weights or None) of a finished ``ganzoo train``
    run directory.

    The weights come from the run's newest checkpoint; a run that stopped early is refused (resume it first), so a
    stored model is always the model its config describes.
    """
    run_dir = Path(run_dir)
    train_config, run = read_run(run_dir)
    data = run["data"]
    step, state = load_checkpoint(run_dir / "checkpoints")
    if step < train_config.steps:
        raise GanzooError(
            f"run {run_dir} stopped at step {step} of {train_config.steps}; only finished runs are stored",
            hint=f"finish it first: ganzoo train --resume {run_dir}")
    records = read_metrics(run_dir / LOG_FILE)
    config: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "arch": train_config.arch,
        "loss": train_config.loss,
        "dataset": train_config.dataset,
        "latent_dim": train_config.latent_dim,
        "shape": [int(d) for d in data["shape"]],
        "data_kind": data["kind"],
        "data": data,
        "train_config": train_config.to_dict(),
        "plugins": {kind: plugin_info(registry, kind, getattr(train_config, kind)) for kind in PLUGIN_KINDS},
        "training": {"steps": step, "wall_time_s": round(float(state.get("elapsed", 0.0)), 3),
                     "device": run.get("device"), "final": records[-1] if records else {},
                     "notes": list(train_config.notes), "processes": run.get("processes")},
        "ganzoo_version": run.get("ganzoo_version", __version__),
        "torch_version": run.get("torch_version", torch.__version__),
        "source_run": str(run_dir.resolve()),
        "run_id": run.get("run_id"),
    }
    return validate(config, str(run_dir)), state["generator"], state["critic"], state.get("generator_ema")


def validate(config: Any, source: str) -> dict[str, Any]:
    """Check a config's structure (not the registry); returns it. Problems raise naming ``source`` and the key."""
    def bad(problem: str) -> GanzooError:
        return ConfigError(f"{source}: config.json {problem}",
                           hint="export the model again with `ganzoo models export`, or re-train it")

    if not isinstance(config, dict):
        raise bad("is not a JSON object")
    missing = [k for k in REQUIRED_KEYS if k not in config]
    if missing:
        raise bad(f"lacks required keys: {', '.join(missing)}")
    if config.get("format", FORMAT) != FORMAT:
        raise bad(f"has format {config['format']!r}, expected {FORMAT!r}")
    if not isinstance(config["format_version"], int) or config["format_version"] > FORMAT_VERSION:
        raise GanzooError(f"{source}: config.json has format_version {config['format_version']!r}; this ganzoo "
                          f"reads versions up to {FORMAT_VERSION}", hint="upgrade ganzoo (pip install -U ganzoo)")
    for key in ("arch", "loss", "dataset"):
        if not isinstance(config[key], str) or not config[key]:
            raise bad(f"{key} must be a non-empty string, got {config[key]!r}")
    latent = config["latent_dim"]
    if not isinstance(latent, int) or isinstance(latent, bool) or latent < 1:
        raise bad(f"latent_dim must be a whole number >= 1, got {latent!r}")
    shape = config["shape"]
    if (not isinstance(shape, list) or not shape
            or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in shape)):
        raise bad(f"shape must be a list of positive whole numbers, got {shape!r}")
    if config["data_kind"] not in DATA_KINDS:
        raise bad(f"data_kind must be one of {', '.join(DATA_KINDS)}, got {config['data_kind']!r}")
    train_config = config["train_config"]
    if not isinstance(train_config, dict) or not isinstance(train_config.get("arch_options", {}), dict):
        raise bad("train_config must be an object with an arch_options object")
    if not isinstance(config["plugins"], dict):
        raise bad("plugins must be an object")
    return config


