"""What every ``ganzoo`` command shares: the plugin registry with its load failures reported, the model store, and
the options that choose where many runs execute (``ganzoo sweep`` and ``ganzoo experiment run`` declare them once,
here)."""

from __future__ import annotations

from typing import Any

import typer

from ganzoo.plugin.loading import get_registry
from ganzoo.plugin.registry import Registry
from ganzoo.runs.config import parse_key_values
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


#: Where the trials of a sweep or an experiment run, and how (every command that runs many trials takes these).
EXECUTOR = typer.Option("local", "--executor", "-e", help="where the trials run: local or ray (`ganzoo list --kind "
                        "executor`)")
WORKERS = typer.Option(None, "--workers", "-w", help="local: worker processes [default: one per GPU, else one per "
                       "core]")
ADDRESS = typer.Option(None, "--address", help="ray: auto or HOST:PORT of the cluster [default: start a local one]")
EXECUTOR_OPTION = typer.Option([], "--executor-option", help="key=value option of the executor (e.g. "
                               "cpus_per_trial=2); repeatable")


def executor_options(items: list[str], workers: int | None, address: str | None) -> dict[str, Any]:
    """The executor's options from ``--executor-option key=value`` (repeatable), ``--workers`` and ``--address``."""
    options = parse_key_values(items, "--executor-option", "cpus_per_trial=2")
    if workers is not None:
        options["workers"] = workers
    if address is not None:
        options["address"] = address
    return options
