"""The registry: name -> entry for every kind, filled by plugin hooks, with provenance."""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from ganzoo.errors import DuplicateNameError, PluginError, UnknownNameError
from ganzoo.plugin.specs import (
    KINDS,
    SPEC_TYPES,
    ArchitectureSpec,
    DatasetSpec,
    ExecutorSpec,
    ExperimentSpec,
    LossSpec,
    MetricSpec,
    Provider,
    Spec,
)

KIND_LABELS = {"loss": "loss", "arch": "architecture", "dataset": "data set", "metric": "metric",
               "executor": "executor", "experiment": "experiment"}
KIND_PLURALS = {"loss": "losses", "arch": "architectures", "dataset": "data sets", "metric": "metrics",
                "executor": "executors", "experiment": "experiments"}


@dataclass(frozen=True)
class PluginInfo:
    """A loaded plugin: its entry-point name, distribution, version and the hooks it implements."""

    name: str
    distribution: str
    version: str
    hooks: tuple[str, ...]
    builtin: bool


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be loaded, and why. The other plugins still load."""

    name: str
    distribution: str
    error: str


@dataclass
class Registry:
    """Entries of every kind, keyed by name; aliases resolve to their entry."""

    plugins: list[PluginInfo] = field(default_factory=list)
    failures: list[PluginFailure] = field(default_factory=list)
    #: (provider, the plugin's ``register_commands`` function): called by the command line when it is built.
    command_hooks: list[tuple[Provider, Callable[..., None]]] = field(default_factory=list)
    _entries: dict[str, dict[str, Spec]] = field(default_factory=lambda: {k: {} for k in KINDS})
    _aliases: dict[str, dict[str, str]] = field(default_factory=lambda: {k: {} for k in KINDS})

    def add(self, spec: Spec, provider: Provider) -> Spec:
        """Validate ``spec``, stamp it with ``provider`` and add it; a name taken by another entry is an error."""
        if not isinstance(spec, Spec) or spec.kind not in SPEC_TYPES:
            raise PluginError(
                f"plugin {provider.plugin!r} ({provider.distribution}) registered {spec!r}, which is not a ganzoo "
                "LossSpec, ArchitectureSpec, DatasetSpec, MetricSpec, ExecutorSpec or ExperimentSpec")
        spec.validate()
        spec = replace(spec, provider=provider)
        aliases = self._aliases[spec.kind]
        for name in spec.names:
            if name in aliases:
                other = self._entries[spec.kind][aliases[name]]
                raise DuplicateNameError(
                    f"two plugins register the {KIND_LABELS[spec.kind]} name {name!r}: {other.provider} and {provider}",
                    hint="uninstall one of them, or restrict loading with GANZOO_LOAD_PLUGINS=dist1,dist2")
        self._entries[spec.kind][spec.name] = spec
        for name in spec.names:
            aliases[name] = spec.name
        return spec

    def get(self, kind: str, name: str) -> Spec:
        """The entry called ``name`` (or aliased so); unknown names raise with close matches."""
        if kind not in KINDS:
            raise UnknownNameError(f"unknown kind {kind!r}", hint=f"choose one of {', '.join(KINDS)}")
        aliases = self._aliases[kind]
        if name in aliases:
            return self._entries[kind][aliases[name]]
        close = difflib.get_close_matches(name, list(aliases), n=3, cutoff=0.5)
        suggestion = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
        raise UnknownNameError(
            f"unknown {KIND_LABELS[kind]} {name!r}",
            hint=f"{suggestion}`ganzoo list --kind {kind}` shows every {KIND_LABELS[kind]} installed")

    def loss(self, name: str) -> LossSpec:
        return self.get("loss", name)  # type: ignore[return-value]

    def arch(self, name: str) -> ArchitectureSpec:
        return self.get("arch", name)  # type: ignore[return-value]

    def dataset(self, name: str) -> DatasetSpec:
        return self.get("dataset", name)  # type: ignore[return-value]

    def metric(self, name: str) -> MetricSpec:
        return self.get("metric", name)  # type: ignore[return-value]

    def executor(self, name: str) -> ExecutorSpec:
        return self.get("executor", name)  # type: ignore[return-value]

    def experiment(self, name: str) -> ExperimentSpec:
        return self.get("experiment", name)  # type: ignore[return-value]

    def entries(self, kind: str | None = None, pattern: str | None = None) -> list[Spec]:
        """Entries of ``kind`` (all kinds if None) whose name or an alias matches the shell-style ``pattern``."""
        kinds: Iterable[str] = KINDS if kind is None else (kind,)
        found = []
        for k in kinds:
            for spec in self._entries[k].values():
                if pattern is None or any(fnmatch.fnmatchcase(n, pattern) for n in spec.names):
                    found.append(spec)
        return found

    def names(self, kind: str) -> list[str]:
        return list(self._entries[kind])
