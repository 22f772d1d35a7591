"""Networks rebuilt from a description (architecture name, its options, sample shape, latent size) through the plugin
registry, and their weights read from safetensors (never pickle) and loaded key by key, shape by shape.

Used wherever a generator or critic comes back to life: a stored model, a run folder's checkpoint, a training
evaluation. A description whose architecture no installed plugin provides names the distribution to install.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from ganzoo.errors import GanzooError, UnknownNameError
from ganzoo.plugin.registry import KIND_LABELS, Registry


def arch_options(config: Mapping[str, Any]) -> dict[str, Any]:
    return dict(config["train_config"].get("arch_options", {}))


def missing_plugin_error(config: Mapping[str, Any], kind: str, registry: Registry, source: str) -> GanzooError:
    """The error for a model whose ``kind`` plugin is not installed: names the distribution to install."""
    name = config[kind]
    info = config.get("plugins", {}).get(kind) or {}
    dist, version = info.get("distribution"), info.get("version")
    label = KIND_LABELS[kind]
    failed = [f for f in registry.failures if dist and f.distribution.lower() == str(dist).lower()]
    if failed:
        return GanzooError(f"{source} needs the {label} {name!r} from {dist}, which is installed but failed to "
                           f"load: {failed[0].error}",
                           hint=f"fix or reinstall it: pip install --force-reinstall {dist}")
    if dist:
        trained = f" (the model was made with {dist} {version})" if version else ""
        return GanzooError(f"{source} needs the {label} {name!r}, provided by the distribution {dist}, which is not "
                           f"installed{trained}",
                           hint=f"pip install {dist}   (if it is installed, check GANZOO_LOAD_PLUGINS)")
    return GanzooError(f"{source} needs the {label} {name!r}, which no installed plugin provides",
                       hint=f"install the plugin that provides it; `ganzoo list --kind {kind}` shows what is installed")


def build_networks(config: Mapping[str, Any], registry: Registry, source: str) -> tuple[torch.nn.Module,
                                                                                      torch.nn.Module]:
    """(generator, critic) with freshly initialised weights, built through the registry as the config says.

    Initialisation runs inside a forked RNG so that loading a model does not move the caller's random stream.
    """
    try:
        spec = registry.arch(config["arch"])
    except UnknownNameError:
        raise missing_plugin_error(config, "arch", registry, source) from None
    try:
        with torch.random.fork_rng(devices=[]):
            return spec.factory(tuple(config["shape"]), config["latent_dim"], **arch_options(config))
    except GanzooError as exc:
        raise GanzooError(f"{source}: architecture {spec.name!r} cannot be rebuilt from config.json: {exc.message}",
                          hint="the config does not match the installed plugin version; re-export or re-train "
                               "the model") from exc
    except TypeError as exc:
        raise GanzooError(f"{source}: architecture {spec.name!r} rejects the options in config.json: {exc}",
                          hint=f"the model was made with {spec.name} options this plugin version does not take; "
                               "install the plugin version named in config.json") from exc


def read_weights(path: str | Path, source: str) -> dict[str, torch.Tensor]:
    """Tensors of a safetensors file (never pickle); an unreadable file names itself."""
    try:
        return load_file(str(path), device="cpu")
    except (OSError, SafetensorError, ValueError) as exc:
        raise GanzooError(f"{source}: {Path(path).name} is not a readable safetensors file: {exc}",
                          hint="the file is damaged; re-export the model or re-train it") from exc


def load_weights(module: torch.nn.Module, tensors: Mapping[str, torch.Tensor], what: str, source: str) -> None:
    """Load ``tensors`` into ``module``; every key must match and every shape agree, else a clear error."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = sorted(k for k in set(expected) & set(tensors) if tuple(expected[k].shape) != tuple(tensors[k].shape))
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:5])}")
        if unexpected:
            parts.append(f"unexpected {', '.join(unexpected[:5])}")
        if wrong:
            parts.append("wrong shape " + ", ".join(
                f"{k} {tuple(tensors[k].shape)} (expected {tuple(expected[k].shape)})" for k in wrong[:5]))
        raise GanzooError(f"{source}: the {what} weights do not fit the {what} that config.json describes: "
                          + "; ".join(parts),
                          hint="the weights and config.json come from different models; export them together")
    module.load_state_dict(dict(tensors), strict=True)


def describe_weights(weights: str, decay: object) -> str:
    """Which generator weights are used, for messages: "averaged generator (EMA 0.999)" or "raw generator"."""
    if weights != "ema":
        return "raw generator"
    return f"averaged generator (EMA {decay:g})" if isinstance(decay, (int, float)) else "averaged generator"
