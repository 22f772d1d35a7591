"""Shared by the plugin tests: a plugin module made from source, and a plugin distribution installed the way pip
lays one out (module + dist-info with a `ganzoo` entry point) into a folder put on sys.path."""

from __future__ import annotations

import importlib
import textwrap
import types
from importlib import metadata
from pathlib import Path

from ganzoo.plugin.loading import build_registry
from ganzoo.plugin.registry import Registry


def plugin_module(name: str, body: str) -> types.ModuleType:
    """A module called ``name`` whose code is ``body``."""
    module = types.ModuleType(name)
    exec(textwrap.dedent(body), module.__dict__)
    return module


def install(site: Path, distribution: str, module: str, source: str, version: str = "1.0",
            entry: str = "main") -> None:
    """``module.py`` plus the dist-info pip would write for ``distribution`` with one `ganzoo` entry point."""
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{module}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[ganzoo]\n{entry} = {module}\n")


def builtin_plugins() -> list[tuple[str, types.ModuleType, str, str]]:
    """ganzoo's own plugins as ``build_registry(plugins=...)`` takes them, from its ``ganzoo`` entry points."""
    found = []
    for ep in metadata.entry_points(group="ganzoo"):
        if ep.dist is not None and ep.dist.name == "ganzoo":
            found.append((ep.name, importlib.import_module(ep.value), ep.dist.name, ep.dist.version))
    return sorted(found, key=lambda p: p[0])


#: An executor plugin that runs every trial in the driver's own process, one after the other: sweeps in the tests
#: cost their trainings only (worker processes would start torch again for every sweep). Its worker is reported as
#: "in the driver".
SERIAL_EXECUTOR = """
from ganzoo import Executor, ExecutorSpec, hookimpl

class Serial(Executor):
    name = "serial"

    def run(self, tasks, work, events):
        for task in tasks:
            events.started(task, "in the driver")
            events.finished(task, work(task))

@hookimpl
def register_executors(register):
    register(ExecutorSpec(name="serial", factory=Serial, description="Every trial in the driver's process."))
"""


def serial_registry() -> Registry:
    """The built-in plugins plus the ``serial`` executor (:data:`SERIAL_EXECUTOR`), registered through
    ``register_executors`` as a third-party executor plugin would be."""
    return build_registry([*builtin_plugins(), ("serial", plugin_module("serial_executor", SERIAL_EXECUTOR),
                                                "ganzoo-serial", "1.0")])
