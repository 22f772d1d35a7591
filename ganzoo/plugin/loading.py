"""Plugin loading: the ``ganzoo`` entry-point group through pluggy, built-ins first, then third parties.

Environment:
- ``GANZOO_LOAD_PLUGINS``: comma list of third-party distribution names to load (empty: built-ins only; unset: all).
  Names compare in PEP 503 form (``ganzoo_lsgan`` = ``ganzoo-lsgan``); a name no installed plugin has is reported.
- ``GANZOO_TRACE_PLUGINS``: if set, print every hook call to stderr.
"""

from __future__ import annotations

import difflib
import importlib
import os
import re
import sys
from collections.abc import Iterable
from importlib import metadata
from types import ModuleType

import pluggy

from ganzoo.errors import DuplicateNameError, PluginError
from ganzoo.plugin import hookspecs
from ganzoo.plugin.registry import PluginFailure, PluginInfo, Registry
from ganzoo.plugin.specs import Provider

ENTRY_POINT_GROUP = "ganzoo"
BUILTIN_DISTRIBUTION = "ganzoo"
HOOK_KINDS = {
    "register_losses": "loss",
    "register_architectures": "arch",
    "register_datasets": "dataset",
    "register_metrics": "metric",
    "register_experiments": "experiment",
    "register_executors": "executor",
}

_registry: Registry | None = None


def normalise_distribution(name: str) -> str:
    """PEP 503 form of a distribution name: ``Ganzoo_LSGAN`` and ``ganzoo-lsgan`` are the same distribution."""
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


def _wanted_third_party(load: Iterable[str] | None = None) -> set[str] | None:
    """Third-party distributions to load: ``load`` if given, else ``GANZOO_LOAD_PLUGINS``; None means all."""
    if load is None:
        raw = os.environ.get("GANZOO_LOAD_PLUGINS")
        if raw is None:
            return None
        load = raw.split(",")
    return {normalise_distribution(part) for part in load if part.strip()}


def _entry_point_plugins(wanted: set[str] | None) -> list[tuple[str, str, str, str]]:
    """(entry-point name, module path, distribution, version), built-ins first then by distribution name."""
    found = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist is not None else "unknown"
        version = ep.dist.version if ep.dist is not None else "unknown"
        builtin = dist.lower() == BUILTIN_DISTRIBUTION
        if not builtin and wanted is not None and normalise_distribution(dist) not in wanted:
            continue
        found.append((ep.name, ep.value, dist, version))
    return sorted(found, key=lambda p: (p[2].lower() != BUILTIN_DISTRIBUTION, p[2].lower(), p[0]))


def _unmatched_requests(wanted: set[str], found: list[tuple[str, str, str, str]]) -> list[PluginFailure]:
    """A requested distribution that provides no ``ganzoo`` entry point (a typo, or not installed) is reported."""
    present = {normalise_distribution(dist) for _, _, dist, _ in found}
    installed = sorted({normalise_distribution(ep.dist.name) for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)
                        if ep.dist is not None} - {BUILTIN_DISTRIBUTION})
    failures = []
    for name in sorted(wanted - present - {BUILTIN_DISTRIBUTION}):
        close = difflib.get_close_matches(name, installed, n=1, cutoff=0.6)
        suggestion = f"; did you mean {close[0]!r}?" if close else ""
        # "(not installed)": a stored model's missing-plugin message must not take this for an installed plugin
        failures.append(PluginFailure("GANZOO_LOAD_PLUGINS", f"{name} (not installed)",
                                      "requested, but no installed distribution of that name has `ganzoo` entry "
                                      f"points{suggestion} (installed plugin distributions: "
                                      f"{', '.join(installed) or 'none'})"))
    return failures


def _check_api_version(module: ModuleType, name: str) -> None:
    declared = getattr(module, "GANZOO_API_VERSION", hookspecs.API_VERSION)
    if declared != hookspecs.API_VERSION:
        raise PluginError(
            f"plugin {name!r} was written for ganzoo hook API version {declared}, this ganzoo speaks version "
            f"{hookspecs.API_VERSION}", hint="upgrade the plugin (or ganzoo) to matching versions")


def build_registry(plugins: Iterable[tuple[str, ModuleType | object, str, str]] | None = None, *,
                   load: Iterable[str] | None = None) -> Registry:
    """Load plugins and fill a registry.

    ``plugins`` is an iterable of (name, module-or-object, distribution, version); None loads the ``ganzoo``
    entry-point group: the built-ins and the third-party distributions named by ``load`` (default:
    ``GANZOO_LOAD_PLUGINS``; unset: all). A plugin that fails to import, implements a misspelled hook or targets
    another hook API is recorded in ``registry.failures`` and skipped; duplicate names raise
    :class:`DuplicateNameError`.
    """
    registry = Registry()
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    loaded: list[tuple[object, Provider]] = []

    if plugins is None:
        candidates: list[tuple[str, object, str, str]] = []
        wanted = _wanted_third_party(load)
        found = _entry_point_plugins(wanted)
        if wanted:
            registry.failures.extend(_unmatched_requests(wanted, found))
        for name, module_path, dist, version in found:
            try:
                candidates.append((name, importlib.import_module(module_path), dist, version))
            except Exception as exc:  # a broken plugin must not take the others down
                registry.failures.append(PluginFailure(name, dist, f"import of {module_path} failed: {exc!r}"))
    else:
        candidates = list(plugins)

    for name, module, dist, version in candidates:
        try:
            _check_api_version(module, name)  # type: ignore[arg-type]
            pm.register(module, name=f"{dist}:{name}")
            pm.check_pending()
        except (PluginError, pluggy.PluginValidationError) as exc:
            if pm.is_registered(module):
                pm.unregister(module)
            message = exc.message if isinstance(exc, PluginError) else (
                f"{exc} (a @hookimpl whose name is not a ganzoo hook: check the spelling against "
                f"{', '.join(HOOK_KINDS)})")
            registry.failures.append(PluginFailure(name, dist, message))
            continue
        hooks = tuple(caller.name for caller in (pm.get_hookcallers(module) or []))
        registry.plugins.append(PluginInfo(name, dist, version, hooks, dist.lower() == BUILTIN_DISTRIBUTION))
        loaded.append((module, Provider(dist, version, name)))

    for module, provider in loaded:
        registry.command_hooks += [(provider, impl.function) for impl in pm.hook.register_commands.get_hookimpls()
                                   if impl.plugin is module]
    trace = bool(os.environ.get("GANZOO_TRACE_PLUGINS"))
    for hook_name in HOOK_KINDS:
        for module, provider in loaded:
            impls = [i for i in getattr(pm.hook, hook_name).get_hookimpls() if i.plugin is module]
            for impl in impls:
                if trace:
                    print(f"ganzoo: {hook_name}() of plugin {provider.plugin!r} ({provider.distribution})",
                          file=sys.stderr)

                def register(spec: object, _provider: Provider = provider) -> None:
                    added = registry.add(spec, _provider)  # type: ignore[arg-type]
                    if trace:
                        print(f"ganzoo:   registered {added.kind} {added.name!r}", file=sys.stderr)

                try:
                    impl.function(register=register)
                except DuplicateNameError:
                    raise
                except Exception as exc:  # a plugin that raises while registering is reported and skipped
                    registry.failures.append(PluginFailure(
                        provider.plugin, provider.distribution, f"{hook_name}() raised {exc!r}"))
    return registry


def get_registry() -> Registry:
    """The process-wide registry, built on first use from the installed plugins."""
    global _registry
    if _registry is None:
        _registry = build_registry()
    return _registry


def reset_registry(registry: Registry | None = None) -> None:
    """Drop (or replace) the cached registry, e.g. after installing a plugin or in tests."""
    global _registry
    _registry = registry
