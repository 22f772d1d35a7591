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
from ganzoo.plugin.specs import ANY_LOSS, DatasetSpec, LossSpec
from ganzoo.runs.config import FLAG_SOURCE, RUN_DEFAULTS, SET_SOURCE, TRAINING_KEYS, TrainConfig


def resolve_config(registry: Registry, arch: str, loss: str, dataset: str,
                   overrides: Mapping[str, Any] | None = None, sets: Mapping[str, Any] | None = None, *,
                   recommended: bool = True) -> TrainConfig:
    """Merge defaults, recommendations and user choices into a validated :class:`TrainConfig`.

    ``overrides`` are explicit flags (None values mean "not given"); ``sets`` are ``--set`` pairs whose key is a
    training key, a run key, or an option of the loss, architecture or data set (``loss.``/``arch.``/``dataset.``
    prefixes disambiguate). The data set's recommendations are those for the loss's family
    (:meth:`~ganzoo.plugin.specs.DatasetSpec.recommended_for`); ``recommended=False`` leaves them out (the loss's
    paper settings, as benchmarks/toy_learning.py compares). Every value that differs from the loss's paper default
    gets a note naming both values and its source (the trainer prints the notes at the start of a run).
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
    chosen_by_data: dict[str, Any] = {}
    if recommended:
        for family, settings in _recommendation_layers(data_spec, loss_spec):
            source = recommendation_source(data_spec, family)
            for key, value in settings.items():
                _assign(key, value, values, options, sources, source)
                chosen_by_data[key] = value
    for key, value in (sets or {}).items():
        _assign(key, value, values, options, sources, SET_SOURCE)
    for key, value in (overrides or {}).items():
        if value is not None:
            _assign(key, value, values, options, sources, FLAG_SOURCE)

    config = TrainConfig(arch=arch_spec.name, loss=loss_spec.name, dataset=data_spec.name,
                         loss_options=options["loss"], arch_options=options["arch"],
                         dataset_options=options["dataset"], sources=sources,
                         **{k: values[k] for k in (*RUN_DEFAULTS, *TRAINING_KEYS)})
    config.notes.extend(paper_differences(config, loss_spec))
    config.notes.extend(f"{key} {_show(_setting(config, key))}: {config.sources[key]}" for key in chosen_by_data
                        if key not in loss_spec.defaults() and config.sources.get(key, "").startswith("recommended"))
    return config


def _recommendation_layers(data_spec: DatasetSpec, loss_spec: LossSpec) -> list[tuple[str, dict[str, Any]]]:
    """(family, settings): the data set's settings for every loss, then those for the loss's family."""
    by_family = data_spec.recommendations()
    layers = [(ANY_LOSS, by_family.get(ANY_LOSS, {}))]
    if loss_spec.family and loss_spec.family in by_family and loss_spec.family != ANY_LOSS:
        layers.append((loss_spec.family, by_family[loss_spec.family]))
    return layers


def recommendation_source(data_spec: DatasetSpec, family: str) -> str:
    """``recommended by data set 'gaussians8' for the 'penalty' loss family``, as config.json's sources say it."""
    if family == ANY_LOSS:
        return f"recommended by data set {data_spec.name!r} for every loss"
    return f"recommended by data set {data_spec.name!r} for the {family!r} loss family"


def _setting(config: TrainConfig, key: str) -> Any:
    group, _, name = key.rpartition(".")
    return getattr(config, f"{group}_options").get(name) if group else getattr(config, key)


def paper_differences(config: TrainConfig, loss_spec: LossSpec) -> list[str]:
    """One line per setting of the loss's paper (optimiser, lr, betas, n_critic, batch size, loss options) that this
    run does not use, with the value, the paper's value and where the value came from."""
    paper = loss_spec.defaults()
    lines = []
    for key, expected in paper.items():
        group = "loss." if key in loss_spec.options else ""
        actual = config.loss_options.get(key) if group else getattr(config, key)
        if _same(actual, expected):
            continue
        source = config.sources.get(f"{group}{key}") or config.sources.get(key, "?")
        lines.append(f"{key} {_show(actual)} instead of the paper's {_show(expected)} (loss {loss_spec.name!r}): "
                     f"{source}")
    return lines


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _show(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return f"{value:g}" if isinstance(value, float) else str(value)


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
