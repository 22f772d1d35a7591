"""Resolve a run's settings in layers, recording where each value came from.

Layers, lowest first: ganzoo's own defaults < the loss's paper defaults < the data set's recommendations < the
user's ``--set key=value`` < flags. ``TrainConfig.sources`` says which layer set each value, so a run's config.json
is honest about e.g. "lr 1e-3 from data set gaussians8, the paper's 1e-4 overridden".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ganzoo.errors import ConfigError
from ganzoo.plugin.registry import Registry
from ganzoo.runs.config import FLAG_SOURCE, RUN_DEFAULTS, SET_SOURCE, TRAINING_KEYS, TrainConfig


def resolve_config(registry: Registry, arch: str, loss: str, dataset: str,
                   overrides: Mapping[str, Any] | None = None, sets: Mapping[str, Any] | None = None) -> TrainConfig:
    """Merge defaults, recommendations and user choices into a validated :class:`TrainConfig`.

    ``overrides`` are explicit flags (None values mean "not given"); ``sets`` are ``--set`` pairs whose key is a
    training key, a run key, or an option of the loss, architecture or data set (``loss.``/``arch.``/``dataset.``
    prefixes disambiguate).
    """
    loss_spec, arch_spec, data_spec = registry.loss(loss), registry.arch(arch), registry.dataset(dataset)
    values: dict[str, Any] = dict(RUN_DEFAULTS)
    sources = dict.fromkeys(values, "ganzoo default")
    training = loss_spec.defaults()
    for key in TRAINING_KEYS:
        if key in training:
            values[key], sources[key] = training[key], f"paper default of loss {loss_spec.name!r}"
    values["latent_dim"], sources["latent_dim"] = arch_spec.latent_dim, f"default of architecture {arch_spec.name!r}"
    options = {"loss": dict(loss_spec.options), "arch": dict(arch_spec.options), "dataset": dict(data_spec.options)}
    for key, value in data_spec.recommended.items():
        _assign(key, value, values, options, sources, f"recommended by data set {data_spec.name!r}")
    for key, value in (sets or {}).items():
        _assign(key, value, values, options, sources, SET_SOURCE)
    for key, value in (overrides or {}).items():
        if value is not None:
            _assign(key, value, values, options, sources, FLAG_SOURCE)

    return TrainConfig(arch=arch_spec.name, loss=loss_spec.name, dataset=data_spec.name,
                       loss_options=options["loss"], arch_options=options["arch"],
                       dataset_options=options["dataset"], sources=sources,
                       **{k: values[k] for k in (*RUN_DEFAULTS, *TRAINING_KEYS)})


def _assign(key: str, value: Any, values: dict[str, Any], options: dict[str, dict[str, Any]],
            sources: dict[str, str], source: str) -> None:
    group, _, name = key.rpartition(".")
    if group:
        if group not in options:
            raise ConfigError(f"unknown setting prefix {group!r} in {key!r}", hint="use loss., arch. or dataset.")
        if name not in options[group]:
            known = ", ".join(sorted(options[group])) or "none"
            raise ConfigError(f"{group} has no option {name!r}", hint=f"its options are: {known}")
        options[group][name], sources[key] = value, source
        return
    if key in values or key in TRAINING_KEYS:
        values[key], sources[key] = value, source
        return
    owners = [g for g, opts in options.items() if key in opts]
    if not owners:
        every = sorted({*values, *TRAINING_KEYS, *(f"{g}.{k}" for g, o in options.items() for k in o)})
        raise ConfigError(f"unknown setting {key!r}", hint=f"settings here: {', '.join(every)}")
    if len(owners) > 1:
        raise ConfigError(f"setting {key!r} is an option of {' and '.join(owners)}",
                          hint=f"say which: {' or '.join(f'{g}.{key}' for g in owners)}")
    options[owners[0]][key], sources[f"{owners[0]}.{key}"] = value, source
