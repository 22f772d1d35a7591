"""What every ``ganzoo`` command shares: the plugin registry with its load failures reported, and the model store."""

from __future__ import annotations

import typer

from ganzoo.plugin.loading import get_registry
from ganzoo.plugin.registry import Registry
from ganzoo.store import ModelStore

#: The registries whose load failures this command has already warned about (a command warns once).
_warned: set[int] = set()


def new_command() -> None:
    """A command starts: its first look at the registry warns again (several commands may run in one process, e.g.
    under a test's CliRunner)."""
    _warned.clear()


def loaded_registry() -> Registry:
    """The registry, after printing (once per command) a warning for every plugin that failed to load (the others
    still work). Every command that uses plugins gets its registry here, so each one warns."""
    registry = get_registry()
    if id(registry) not in _warned:
        _warned.add(id(registry))
        for failure in registry.failures:
            typer.secho(f"warning: plugin {failure.name!r} ({failure.distribution}) was not loaded: {failure.error}",
                        err=True, fg="yellow")
    return registry


def open_store() -> ModelStore:
    """The model store at ``GANZOO_HOME``; what it did on its own when it opened is printed to stderr."""
    return ModelStore()
