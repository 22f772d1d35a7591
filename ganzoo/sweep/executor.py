"""Executors as a sweep uses them: the plugin named by ``--executor``, built with its options (unknown options
refused with close matches). The contract itself is :class:`ganzoo.plugin.executor.Executor`."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from ganzoo.errors import ConfigError, GanzooError
from ganzoo.plugin.executor import Executor, ExecutorEvents
from ganzoo.plugin.registry import Registry

DEFAULT_EXECUTOR = "local"

__all__ = ["DEFAULT_EXECUTOR", "Executor", "ExecutorEvents", "make_executor"]


def make_executor(name: str, options: Mapping[str, Any], registry: Registry) -> Executor:
    """The executor ``name`` with ``options`` over its declared defaults (None values: not given)."""
    spec = registry.executor(name)
    chosen = dict(spec.options)
    for key, value in options.items():
        if value is None:
            continue
        if key not in spec.options:
            close = difflib.get_close_matches(key, list(spec.options), n=1, cutoff=0.5)
            raise ConfigError(f"executor {spec.name!r} has no option {key!r}",
                              hint=(f"did you mean {close[0]!r}? " if close else "")
                              + f"its options: {', '.join(spec.options) or 'none'}")
        chosen[key] = value
    executor = spec.factory(**chosen)
    if not isinstance(executor, Executor):
        raise GanzooError(f"executor {spec.name!r} ({spec.provider}) built {type(executor).__name__}, not an Executor",
                          hint="its plugin is broken: report it to its author")
    return executor
