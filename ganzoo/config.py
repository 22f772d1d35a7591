"""Resolve a training run's settings, recording where each value came from.

Layers, lowest first: ganzoo's own defaults < the loss's paper defaults < the data set's recommendations < the
user's flags and ``--set key=value``. ``TrainConfig.sources`` says which layer set each value, so a run's config.json
is honest about e.g. "lr 1e-3 from data set gaussians8, the paper's 1e-4 overridden".
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ganzoo.errors import ConfigError
from ganzoo.noise import check_seed
from ganzoo.registry import Registry
from ganzoo.specs import OPTIMIZERS, valid_betas

#: Settings of the training loop itself (not of a plugin), with ganzoo's own defaults.
RUN_DEFAULTS: dict[str, Any] = {
    "steps": 1000,
    "seed": 0,
    "device": "auto",
    "sample_every": 0,  # 0: about 10 grids per run
    "checkpoint_every": 0,  # 0: about 4 checkpoints per run
    "keep_checkpoints": 3,
    "n_samples": 64,
    "lr_schedule": "constant",  # or "linear": decay to 0 over the run (WGAN-GP paper, CIFAR-10 experiments)
    "eval_every": 0,  # K > 0: score the generator every K steps into metrics.jsonl (ganzoo.evaluate)
    "eval_metric": None,  # None: w1 for points, fid for images
    "eval_n": 0,  # samples per evaluation; 0: 1,000 points / 2,000 images
    "name": None,  # model-store name when the run finishes; None: {arch}-{loss}-{dataset}
    "register": True,  # store the finished model
}
LR_SCHEDULES = ("constant", "linear")
TRAINING_KEYS = ("optimizer", "lr", "betas", "n_critic", "batch_size", "latent_dim")
OPTION_GROUPS = {"loss": "loss_options", "arch": "arch_options", "dataset": "dataset_options"}


@dataclass
class TrainConfig:
    """Everything needed to run (and re-run) a training job. JSON-serialisable."""

    arch: str
    loss: str
    dataset: str
    steps: int
    batch_size: int
    optimizer: str
    lr: float
    betas: list[float] | None
    n_critic: int
    latent_dim: int
    seed: int = 0
    device: str = "auto"
    sample_every: int = 0
    checkpoint_every: int = 0
    keep_checkpoints: int = 3
    n_samples: int = 64
    lr_schedule: str = "constant"
    eval_every: int = 0
    eval_metric: str | None = None
    eval_n: int = 0
    name: str | None = None
    register: bool = True
    loss_options: dict[str, Any] = field(default_factory=dict)
    arch_options: dict[str, Any] = field(default_factory=dict)
    dataset_options: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.sample_every <= 0:
            self.sample_every = max(1, self.steps // 10)
        if self.checkpoint_every <= 0:
            self.checkpoint_every = max(1, self.steps // 4)
        self.validate()

    def validate(self) -> None:
        for key in ("steps", "batch_size", "n_critic", "latent_dim", "keep_checkpoints", "n_samples"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{key} must be a whole number >= 1, got {value!r}")
        check_seed(self.seed)
        if not isinstance(self.lr, (int, float)) or not 0 < self.lr < 1:
            raise ConfigError(f"lr must be a number in (0, 1), got {self.lr!r}", hint="e.g. --lr 1e-4")
        for key in ("eval_every", "eval_n"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{key} must be a whole number >= 0 (0: off / automatic), got {value!r}")
        if self.name is not None and not isinstance(self.name, str):
            raise ConfigError(f"name must be a model name, got {self.name!r}", hint="e.g. --name my-ring")
        if not isinstance(self.register, bool):
            raise ConfigError(f"register must be true or false, got {self.register!r}")
        if self.eval_metric is not None and not isinstance(self.eval_metric, str):
            raise ConfigError(f"eval_metric must be a metric name, got {self.eval_metric!r}",
                              hint="`ganzoo list --kind metric` shows them")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.optimizer == "adam":
            betas = tuple(float(b) for b in self.betas) if isinstance(self.betas, (list, tuple)) else self.betas
            if not valid_betas(betas):
                raise ConfigError(f"Adam betas must be two numbers in [0, 1), got {self.betas!r}",
                                  hint="e.g. --set betas=[0.0,0.9]")
            self.betas = list(betas)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown config keys: {', '.join(sorted(unknown))}")
        return cls(**data)


def parse_value(text: str) -> Any:
    """``--set`` values: JSON where it parses (numbers, true/false, null, lists), else the plain string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_sets(items: Sequence[str]) -> dict[str, Any]:
    """``["lambda=5", "arch.width=32"]`` -> ``{"lambda": 5, "arch.width": 32}``."""
    parsed: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, got {item!r}", hint="e.g. --set lambda=5 --set arch.width=32")
        parsed[key.strip()] = parse_value(value.strip())
    return parsed


#: ``TrainConfig.sources`` of the values a user chose (the rest are defaults): what a command must repeat.
SET_SOURCE, FLAG_SOURCE = "--set", "command line"
USER_SOURCES = (SET_SOURCE, FLAG_SOURCE)


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
