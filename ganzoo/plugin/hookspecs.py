"""The hooks a ganzoo plugin can implement: the one contract between the core and every plugin.

Each hook receives a ``register`` callback. A plugin calls it once per entry it provides::

    from ganzoo import hookimpl, LossSpec

    @hookimpl
    def register_losses(register):
        register(LossSpec(name="hinge", factory=HingeLoss, defaults=..., description=...))

The core wraps ``register`` to record which distribution (name, version) provided each entry and to validate it.
Built-in plugins use exactly these hooks. ``register_commands(cli)`` is the one hook without ``register``: it adds
commands to the ``ganzoo`` command line (the pattern of simonw/llm's hook of the same name).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT_NAME = "ganzoo"

#: Version of this hook API. A plugin may declare ``GANZOO_API_VERSION = N`` at module level; a plugin written for
#: a different major version is refused with a clear message.
API_VERSION = 1

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

Register = Callable[[Any], None]


@hookspec
def register_losses(register: Register) -> None:
    """Register GAN objectives: call ``register(LossSpec(...))`` once per loss."""


@hookspec
def register_architectures(register: Register) -> None:
    """Register generator/critic pairs: call ``register(ArchitectureSpec(...))`` once per architecture."""


@hookspec
def register_datasets(register: Register) -> None:
    """Register real-data sources: call ``register(DatasetSpec(...))`` once per data set."""


@hookspec
def register_metrics(register: Register) -> None:
    """Register sample-quality metrics: call ``register(MetricSpec(...))`` once per metric."""


@hookspec
def register_experiments(register: Register) -> None:
    """Register papers' claims as experiments: call ``register(ExperimentSpec(...))`` once per experiment."""


@hookspec
def register_executors(register: Register) -> None:
    """Register places where a sweep's trials run: call ``register(ExecutorSpec(...))`` once per executor."""


@hookspec
def register_commands(cli: Any) -> None:
    """Add commands to the ``ganzoo`` command line: ``cli`` is a ``typer.Typer``; use ``@cli.command()`` or
    ``cli.add_typer(group, name=...)``. A name that ganzoo or another plugin already has is an error."""
