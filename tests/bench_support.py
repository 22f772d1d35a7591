"""Loading a script of benchmarks/ in a test as it runs when started by hand.

benchmarks/ is a folder of scripts, not a package: they import their sibling modules by name (``harness``,
``reference_gan``, ``training_cases``, ...), which works because Python puts a script's folder on sys.path.
Loading a script here needs the same; afterwards the script and every sibling it imported are forgotten again.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load_script(name: str) -> Iterator[ModuleType]:
    """Yield ``benchmarks/NAME.py`` as a module (for a fixture: ``yield from load_script(name)``)."""
    before = set(sys.modules)
    sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as an import registers it; removed again below
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        for loaded in set(sys.modules) - before:
            if loaded == name or (BENCHMARKS / f"{loaded}.py").exists():
                sys.modules.pop(loaded, None)
        sys.path.remove(str(BENCHMARKS))
