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
#: The loss families the built-in losses declare (``LossSpec.family``), by which a data set keys its recommendations.
#: A third-party loss declares one of these when it trains like them (or a family of its own), or none at all.
LOSS_FAMILIES: dict[str, str] = {
    "gan": "logistic discriminator, Adam (Goodfellow et al. 2014): minimax, non-saturating",
    "wgan": "Wasserstein critic with weight clipping, RMSprop (Arjovsky et al. 2017): wgan",
    "penalty": "Wasserstein critic with a gradient penalty, Adam (Gulrajani et al. 2017): wgan-gp, wgan-lp",
}
#: The key of ``DatasetSpec.recommended`` whose settings apply to every loss, whatever its family (or none).
ANY_LOSS = "any"
#: The settings a loss's paper prescribes (:class:`TrainingDefaults`): a data set may recommend them only for a
#: loss family, never for every loss, so that no loss silently trains away from its paper's optimiser.
PAPER_KEYS = ("optimizer", "lr", "betas", "n_critic", "batch_size")


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
    """A GAN objective. ``factory(**options)`` returns a :class:`ganzoo.plugin.loss.GANLoss`.

    ``training`` holds its paper's optimisation settings; ``family`` names how it trains (one of
    :data:`LOSS_FAMILIES`, e.g. ``"penalty"`` for a gradient-penalty loss, or a family of its own), so that a data
    set's recommendations for that family apply to it. A loss without a family trains with its paper defaults:
    only the data set's recommendations for every loss (``"any"``) apply, and those never touch :data:`PAPER_KEYS`.
    """

    kind: ClassVar[str] = "loss"
    training: TrainingDefaults = TrainingDefaults()
    family: str | None = None

    def defaults(self) -> dict[str, Any]:
        t = self.training
        return {"optimizer": t.optimizer, "lr": t.lr, "betas": t.betas and list(t.betas), "n_critic": t.n_critic,
                "batch_size": t.batch_size, **self.options}

    def validate(self) -> None:
        super().validate()
        self.training.validate(f"loss {self.name!r}")
        family = self.family
        if family is not None and (not isinstance(family, str) or not NAME_PATTERN.match(family)
                                   or family == ANY_LOSS):
            raise PluginError(f"loss {self.name!r}: family {family!r} is not a lower-kebab-case name other than "
                              f"{ANY_LOSS!r}; the built-in families are {', '.join(LOSS_FAMILIES)}")


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

    ``recommended`` holds the training settings this data set needs to learn in a CPU-sized run, keyed by loss
    family: ``{"any": {...}, "gan": {...}, "wgan": {...}, "penalty": {...}}`` (see :data:`LOSS_FAMILIES`). ``"any"``
    applies to every loss and may not hold a loss's paper settings (:data:`PAPER_KEYS`: optimizer, lr, betas,
    n_critic, batch_size); a family's settings apply to the losses of that family, on top of ``"any"``. A flat
    mapping of settings (ganzoo 0.1) means ``{"any": mapping}``. Each key of a family's settings is a run setting
    (``ganzoo train --set`` key) or an option (``arch.width``). They override the loss's paper defaults only where
    the user did not choose; the run prints each value that differs from the paper's and config.json records its
    source. :meth:`recommended_for` gives the settings for one loss.

    ``modes`` (the centres of a toy mixture, one point per mode) and ``mode_std`` (each mode's standard deviation)
    let the ``modes`` metric score it: :meth:`build` attaches them to the data when the factory's data carries none
    (data whose modes depend on its options sets ``RealData.modes`` / ``mode_std`` itself).
    """

    kind: ClassVar[str] = "dataset"
    recommended: Mapping[str, Any] = field(default_factory=dict)
    modes: tuple[tuple[float, ...], ...] = ()
    mode_std: float | None = None

    def build(self, **options: Any) -> Any:
        """``factory(**options)``, the :class:`ganzoo.plugin.data.RealData` with the declared modes attached when it
        carries none; how the trainer, the evaluation and the conformance kit make the data."""
        data = self.factory(**options)
        if self.modes and getattr(data, "modes", None) is None:
            import torch

            data.modes = torch.tensor(self.modes, dtype=torch.float32, device=data.device)
            data.mode_std = self.mode_std
        return data

    def recommendations(self) -> dict[str, dict[str, Any]]:
        """``recommended`` keyed by family (a flat mapping becomes ``{"any": mapping}``)."""
        values = list(self.recommended.values())
        if values and not any(isinstance(v, Mapping) for v in values):
            return {ANY_LOSS: dict(self.recommended)}
        return {str(family): dict(settings) for family, settings in self.recommended.items()}

    def recommended_for(self, loss: LossSpec) -> dict[str, Any]:
        """The settings this data set recommends for ``loss``: ``"any"``, then those of the loss's family."""
        by_family = self.recommendations()
        family = by_family.get(loss.family, {}) if loss.family else {}
        return {**by_family.get(ANY_LOSS, {}), **family}

    def validate(self) -> None:
        super().validate()
        owner = f"data set {self.name!r}"
        if not isinstance(self.recommended, Mapping):
            raise PluginError(f"{owner}: recommended must be a dict keyed by loss family, got "
                              f"{type(self.recommended).__name__}", hint=RECOMMENDED_HINT)
        values = list(self.recommended.values())
        if any(isinstance(v, Mapping) for v in values) and not all(isinstance(v, Mapping) for v in values):
            raise PluginError(f"{owner}: recommended mixes settings and loss families ({', '.join(self.recommended)})",
                              hint=RECOMMENDED_HINT)
        if self.modes or self.mode_std is not None:
            dims = {len(m) if isinstance(m, (tuple, list)) else -1 for m in self.modes}
            if len(dims) != 1 or min(dims) < 1 or not all(
                    isinstance(x, (int, float)) and not isinstance(x, bool) for m in self.modes for x in m):
                raise PluginError(f"{owner}: modes must be one point per mode, each a tuple of numbers of the same "
                                  f"length, got {self.modes!r}", hint="e.g. modes=((2.0, 0.0), (0.0, 2.0)), "
                                  "mode_std=0.02")
            std = self.mode_std
            if isinstance(std, bool) or not isinstance(std, (int, float)) or not std > 0:
                raise PluginError(f"{owner}: modes need mode_std, each mode's standard deviation (> 0), got {std!r}",
                                  hint="e.g. modes=((2.0, 0.0), (0.0, 2.0)), mode_std=0.02")
        for family, settings in self.recommendations().items():
            if family != ANY_LOSS and not NAME_PATTERN.match(family):
                raise PluginError(f"{owner}: recommended has the key {family!r}, which is neither {ANY_LOSS!r} nor a "
                                  f"loss family (e.g. {', '.join(LOSS_FAMILIES)})", hint=RECOMMENDED_HINT)
            if not all(isinstance(key, str) and key for key in settings):
                raise PluginError(f"{owner}: the settings recommended for {family!r} must be keyed by setting names",
                                  hint=RECOMMENDED_HINT)
            paper = [key for key in settings if key in PAPER_KEYS]
            if family == ANY_LOSS and paper:
                raise PluginError(
                    f"{owner}: recommended sets {', '.join(paper)} for every loss, overriding each loss's paper "
                    "optimiser settings", hint="recommend them per loss family, e.g. recommended={'any': {'steps': "
                    "1500}, 'penalty': {'lr': 1e-3}} (families: " + ", ".join(LOSS_FAMILIES) + ")")


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


RECOMMENDED_HINT = ("e.g. recommended={'any': {'steps': 1500, 'latent_dim': 2}, 'penalty': {'lr': 1e-3, "
                    "'batch_size': 256}}; families: " + ", ".join(LOSS_FAMILIES) + "; 'any' applies to every loss")

SPEC_TYPES: dict[str, type[Spec]] = {t.kind: t for t in (LossSpec, ArchitectureSpec, DatasetSpec, MetricSpec,
                                                         ExecutorSpec, ExperimentSpec)}
KINDS = tuple(SPEC_TYPES)
