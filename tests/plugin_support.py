"""Shared by the plugin tests: a plugin module made from source, and a plugin distribution installed the way pip
lays one out (module + dist-info with a `ganzoo` entry point) into a folder put on sys.path."""

from __future__ import annotations

import textwrap
import types
from pathlib import Path


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
