"""Registry entries: what a plugin hands to ``register``.

An entry is a frozen dataclass: its name, aliases, a factory, the factory's default options (each one overridable with
``ganzoo train --set key=value``), a description, the paper it comes from, and (filled in by the core) its provider.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ganzoo.errors import PluginError

NAME_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
OPTIMIZERS = ("adam", "rmsprop")


@dataclass(frozen=True)
class Provider:
    """The distribution that registered an entry, and the plugin (entry-point) name inside it."""

    distribution: str
    version: str
    plugin: str

    def __str__(self) -> str:
        return f"{self.distribution} {self.version} (plugin {self.plugin!r})"


def valid_betas(betas: object) -> bool:
    """Two floats in [0, 1). Floats, not ints: torch >= 2.14's Adam rejects (0, 0.9)."""
    return (isinstance(betas, (tuple, list)) and len(betas) == 2
            and all(isinstance(b, float) and 0.0 <= b < 1.0 for b in betas))


@dataclass(frozen=True)
class TrainingDefaults:
    """The optimisation settings a loss's paper prescribes."""

    optimizer: str = "adam"
    lr: float = 2e-4
    betas: tuple[float, float] | None = (0.5, 0.999)
    n_critic: int = 1
    batch_size: int = 64

    def validate(self, owner: str) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise PluginError(f"{owner}: optimizer {self.optimizer!r} is not one of {OPTIMIZERS}")
        if not self.lr > 0:
            raise PluginError(f"{owner}: lr must be > 0, got {self.lr}")
        if self.optimizer == "adam" and not valid_betas(self.betas):
            raise PluginError(f"{owner}: Adam needs betas as two floats in [0, 1), got {self.betas!r}")
        if self.n_critic < 1 or self.batch_size < 1:
            raise PluginError(f"{owner}: n_critic and batch_size must be >= 1")


@dataclass(frozen=True, kw_only=True)
class Spec:
    """Fields shared by every kind of entry."""

    kind: ClassVar[str] = ""
    name: str
    factory: Callable[..., Any]
    aliases: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    paper: str = ""
    provider: Provider | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    def defaults(self) -> dict[str, Any]:
        """Every default this entry declares, as shown by ``ganzoo list``."""
        return dict(self.options)

    def validate(self) -> None:
        owner = f"{self.kind} {self.name!r}"
        for name in self.names:
            if not isinstance(name, str) or not NAME_PATTERN.match(name):
                raise PluginError(f"{owner}: name {name!r} is not lower-kebab-case (e.g. 'wgan-gp')")
        if not callable(self.factory):
            raise PluginError(f"{owner}: factory must be callable, got {type(self.factory).__name__}")


@dataclass(frozen=True, kw_only=True)
class LossSpec(Spec):
    """A GAN objective. ``factory(**options)`` returns a :class:`ganzoo.plugin.loss.GANLoss`."""

    kind: ClassVar[str] = "loss"
    training: TrainingDefaults = TrainingDefaults()

    def defaults(self) -> dict[str, Any]:
        t = self.training
        return {"optimizer": t.optimizer, "lr": t.lr, "betas": t.betas and list(t.betas), "n_critic": t.n_critic,
                "batch_size": t.batch_size, **self.options}

    def validate(self) -> None:
        super().validate()
        self.training.validate(f"loss {self.name!r}")


@dataclass(frozen=True, kw_only=True)
class ArchitectureSpec(Spec):
    """A generator/critic pair.

    ``factory(shape, latent_dim, **options)`` returns ``(generator, critic)``: ``generator(z)`` maps ``[B, latent_dim]``
    to ``[B, *shape]`` in [-1, 1] (images) or unbounded (points); ``critic(x)`` maps ``[B, *shape]`` to ``[B]``.
    ``image_sizes`` lists the square image sizes it supports (empty: any); ``points`` says whether it takes 1-D points.
    ``critic_norm_option`` names the option that sets the critic's normalisation ("batch", "layer" or "none"), so that a
    loss which forbids batch norm in the critic can switch it without knowing the architecture.
    """

    kind: ClassVar[str] = "arch"
    latent_dim: int = 128
    image_sizes: tuple[int, ...] = ()
    points: bool = False
    critic_norm_option: str | None = None


@dataclass(frozen=True, kw_only=True)
class DatasetSpec(Spec):
    """A real-data source. ``factory(**options)`` returns a :class:`ganzoo.plugin.data.RealData`.

    ``recommended`` holds training settings this data set needs to learn in a CPU-sized run (e.g. a larger lr for toy
    data); they override the loss's paper defaults only where the user did not choose, and the run's config says so.
    """

    kind: ClassVar[str] = "dataset"
    recommended: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class MetricSpec(Spec):
    """A sample-quality metric. ``factory(**options)`` returns a :class:`ganzoo.plugin.metric.Metric`."""

    kind: ClassVar[str] = "metric"
    data_kinds: tuple[str, ...] = ("images",)

    def directions(self) -> dict[str, bool]:
        """Which way is better for the values this metric declares: ``{key: higher_is_better}``, its headline first.

        Read from the metric itself (built with the entry's default options, which computes nothing): its
        ``headline`` and ``higher_is_better``, then its ``directions`` for other values. Comparisons
        (``ganzoo compare``) rank by these; a value the metric does not list follows the headline's direction.
        """
        metric = self.factory(**self.options)
        headline = str(metric.headline)
        return {headline: bool(metric.higher_is_better), **{str(k): bool(v) for k, v in metric.directions.items()}}


@dataclass(frozen=True, kw_only=True)
class ExecutorSpec(Spec):
    """Where a sweep's trials run. ``factory(**options)`` returns a :class:`ganzoo.plugin.executor.Executor`;
    ``options`` are its settings with their defaults (``ganzoo sweep --executor NAME --executor-option key=value``)."""

    kind: ClassVar[str] = "executor"


@dataclass(frozen=True, kw_only=True)
class ExperimentSpec(Spec):
    """A paper's claim as a runnable experiment. ``factory(**options)`` returns a
    :class:`ganzoo.plugin.experiment.Experiment`.

    ``claim`` states what the paper says, ``verdict_rule`` how the measured numbers decide "reproduced", "partly" or
    "not reproduced" (written before anything is run), and ``budgets`` what each budget (tiny, small, paper) runs.
    """

    kind: ClassVar[str] = "experiment"
    claim: str = ""
    verdict_rule: str = ""
    budgets: Mapping[str, str] = field(default_factory=dict)

    def validate(self) -> None:
        super().validate()
        owner = f"experiment {self.name!r}"
        if not self.claim.strip() or not self.verdict_rule.strip():
            raise PluginError(f"{owner}: give the claim it tests and its verdict rule (claim=, verdict_rule=)")
        from ganzoo.plugin.experiment import BUDGETS

        if set(self.budgets) != set(BUDGETS):
            raise PluginError(f"{owner}: budgets must describe exactly {', '.join(BUDGETS)}, got "
                              f"{', '.join(self.budgets) or 'none'}")


SPEC_TYPES: dict[str, type[Spec]] = {t.kind: t for t in (LossSpec, ArchitectureSpec, DatasetSpec, MetricSpec,
                                                         ExecutorSpec, ExperimentSpec)}
KINDS = tuple(SPEC_TYPES)
