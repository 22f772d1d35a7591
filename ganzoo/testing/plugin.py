"""Whole-plugin conformance: load a distribution next to the built-ins, find its entries, check each one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib import metadata
from typing import Any

from ganzoo.plugin.loading import build_registry, normalise_distribution
from ganzoo.plugin.registry import Registry
from ganzoo.plugin.specs import ArchitectureSpec, DatasetSpec, ExecutorSpec, ExperimentSpec, LossSpec, MetricSpec, Spec
from ganzoo.testing.architectures import check_architecture
from ganzoo.testing.datasets import check_dataset
from ganzoo.testing.executors import check_executor
from ganzoo.testing.experiments import check_experiment
from ganzoo.testing.losses import check_loss
from ganzoo.testing.metrics import check_metric

CHECKS = {LossSpec: check_loss, ArchitectureSpec: check_architecture, DatasetSpec: check_dataset,
          MetricSpec: check_metric, ExecutorSpec: check_executor, ExperimentSpec: check_experiment}


def check_entry(spec: Spec, **options: Any) -> None:
    """Run the check for ``spec``'s kind (``check_loss``, ``check_architecture``, ...) with ``options``."""
    for kind, run_check in CHECKS.items():
        if isinstance(spec, kind):
            run_check(spec, **options)  # type: ignore[operator]
            return
    raise AssertionError(f"{spec!r} is not a LossSpec, ArchitectureSpec, DatasetSpec, MetricSpec, ExecutorSpec or "
                         "ExperimentSpec\n  fix: pass an entry of the registry (registry.entries() or "
                         "ganzoo.testing.entries())")


def entry_id(spec: Spec) -> str:
    """A test id such as ``loss-lsgan``."""
    return f"{spec.kind}-{spec.name}"


def plugin_registry(*distributions: str) -> Registry:
    """The built-ins plus exactly ``distributions`` (whatever GANZOO_LOAD_PLUGINS says), loaded as ganzoo would.

    Raises AssertionError if a distribution is not installed, declares no ``ganzoo`` entry point or fails to load,
    and :class:`ganzoo.errors.DuplicateNameError` if it takes a name another loaded plugin has.
    """
    for name in distributions:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise AssertionError(f"distribution {name!r} is not installed in this environment"
                                 f"\n  fix: pip install -e PATH/TO/{name}") from None
        if not any(ep.group == "ganzoo" for ep in dist.entry_points):
            raise AssertionError(f"distribution {name!r} declares no entry point in the `ganzoo` group"
                                 f"\n  fix: add [project.entry-points.ganzoo] to its pyproject.toml and reinstall")
    registry = build_registry(load=distributions)
    wanted = {normalise_distribution(name) for name in distributions}
    failed = [f for f in registry.failures if normalise_distribution(f.distribution) in wanted]
    if failed:
        raise AssertionError("plugin failed to load: " + "; ".join(
            f"{f.distribution} (plugin {f.name!r}): {f.error}" for f in failed)
            + "\n  fix: the error above names the cause; `python -c 'import MODULE'` shows its traceback")
    return registry


def _provided_by(specs: Iterable[Spec], distribution: str) -> list[Spec]:
    """The entries of ``specs`` that ``distribution`` provides (names compared in PEP 503 form)."""
    wanted = normalise_distribution(distribution)
    return [s for s in specs if s.provider is not None and normalise_distribution(s.provider.distribution) == wanted]


def entries(distribution: str, kind: str | None = None) -> list[Spec]:
    """Every entry ``distribution`` registers (only ``kind`` if given: loss, arch, dataset or metric)."""
    found = _provided_by(plugin_registry(distribution).entries(kind), distribution)
    if not found:
        what = f"{kind} entries" if kind else "entries"
        raise AssertionError(f"distribution {distribution!r} registers no {what}"
                             "\n  fix: call register(spec) in its hooks (and reinstall it after changing its entry "
                             "points)")
    return found


def check_plugin(registry: Registry, names: Iterable[str] | None = None, *, distribution: str | None = None,
                 settings: Mapping[str, Mapping[str, Any]] | None = None) -> list[str]:
    """Check entries of ``registry``: those called ``names`` (any kind), or those ``distribution`` provides, or all.

    ``settings`` maps an entry name to keyword arguments of its check (e.g. ``{"folder": {"options": {"path":
    "imgs"}}}``). Every entry is checked even after a failure; one AssertionError then lists every failure. Returns
    the ids (``loss-lsgan``, ...) of the entries that passed; a data set whose data is not here is left out.
    """
    specs = registry.entries()
    if names is not None:
        wanted = set(names)
        specs = [s for s in specs if wanted & set(s.names)]
        unknown = wanted - {n for s in specs for n in s.names}
        if unknown:
            raise AssertionError(f"no entry is called {', '.join(map(repr, sorted(unknown)))}"
                                 "\n  fix: use a registered name; `ganzoo list` shows them")
    if distribution is not None:
        specs = _provided_by(specs, distribution)
    passed, failures = [], []
    for spec in specs:
        try:
            check_entry(spec, **(settings or {}).get(spec.name, {}))
        except AssertionError as exc:
            failures.append(str(exc))
        except BaseException as exc:
            if not _is_skip(exc):
                raise
        else:
            passed.append(entry_id(spec))
    if failures:
        raise AssertionError(f"{len(failures)} of {len(specs)} entries fail conformance:\n" + "\n".join(failures))
    return passed


def _is_skip(exc: BaseException) -> bool:
    """pytest.skip() from check_dataset (data not available here): not a failure."""
    try:
        import pytest
    except ImportError:
        return False
    return isinstance(exc, pytest.skip.Exception)
