"""The house in layers: import-linter's contracts hold (and catch a forbidden import), the public face is complete
and cheap, ganzoo 0.1's import paths still work, and the repository cites nothing outside itself."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import ganzoo

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` run in ``root`` (which holds pyproject.toml, ganzoo/ and ganzoo_plugins/)."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def source_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package sources laid out as import-linter sees them, in a folder a test may change."""
    root = tmp_path_factory.mktemp("layers")
    shutil.copytree(ROOT / "ganzoo", root / "ganzoo", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "plugins", root / "ganzoo_plugins", ignore=shutil.ignore_patterns("__pycache__", "weights"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def test_the_import_contracts_hold(source_copy: Path) -> None:
    done = lint_imports(source_copy)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(("module", "line", "broken"), [
    ("runs/files.py", "from ganzoo import api", "ganzoo is layered"),  # a lower layer importing a higher one
    ("train/build.py", "from ganzoo.store import ModelStore", "ganzoo is layered"),  # train and store independent
    ("store/records.py", "import ganzoo_plugins.losses", "never imports the built-in plugins"),
    ("eval/engine.py", "from ganzoo.loss import GANLoss", "never the shims"),
    ("sweep/outcome.py", "import ganzoo.compare", "ganzoo is layered"),  # compare reads sweeps, not the reverse
])
def test_a_forbidden_import_breaks_a_contract(source_copy: Path, module: str, line: str, broken: str) -> None:
    target = source_copy / "ganzoo" / module
    original = target.read_text()
    target.write_text(original + f"\n{line}  # added by the test\n")
    try:
        done = lint_imports(source_copy)
    finally:
        target.write_text(original)
    assert done.returncode != 0
    assert broken in done.stdout and "BROKEN" in done.stdout


def test_the_public_face_is_complete_and_every_name_resolves() -> None:
    for name in ganzoo.__all__:
        assert getattr(ganzoo, name) is not None, name
    assert set(ganzoo._LAZY) <= set(ganzoo.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        ganzoo.nothing_here  # noqa: B018


def test_importing_ganzoo_does_not_import_torch() -> None:
    code = "import sys, ganzoo; from ganzoo import LossSpec, hookimpl, ConfigError; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", done.stderr


@pytest.mark.parametrize(("old", "name", "new"), [
    ("ganzoo.loss", "ComposedLoss", "ganzoo.plugin.loss"),
    ("ganzoo.data", "SampledData", "ganzoo.plugin.data"),
    ("ganzoo.metric", "Metric", "ganzoo.plugin.metric"),
    ("ganzoo.plugins", "build_registry", "ganzoo.plugin.loading"),
    ("ganzoo.store", "ModelStore", "ganzoo.store.model_store"),
    ("ganzoo.cli", "main", "ganzoo.cli.app"),
])
def test_the_import_paths_of_ganzoo_0_1_still_work(old: str, name: str, new: str) -> None:
    assert getattr(importlib.import_module(old), name) is getattr(importlib.import_module(new), name)


def test_the_repository_cites_no_file_outside_it() -> None:
    outside = ("SCIENCE.md", "STYLE.md", "DESIGN.md", "ENVIRONMENT.md", "../shared")
    found = []
    for path in ROOT.rglob("*"):
        if any(part in (".venv", ".git", "__pycache__", "runs") for part in path.parts) or not path.is_file():
            continue
        if path.suffix not in (".py", ".md", ".toml", ".sh", ".txt", ".cfg") or path == Path(__file__):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        found += [f"{path.relative_to(ROOT)}: {word}" for word in outside if word in text]
    assert not found, found


def test_every_package_folder_is_listed_for_installation() -> None:
    """pyproject.toml lists the packages by name; a subpackage missing there imports from a checkout but is left out
    of a wheel (a user's `pip install ganzoo` would lack it)."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {".".join(init.parent.relative_to(ROOT).parts) for init in (ROOT / "ganzoo").rglob("__init__.py")}
    on_disk |= {".".join(("ganzoo_plugins", *init.parent.relative_to(ROOT / "plugins").parts))
                for init in (ROOT / "plugins").rglob("__init__.py")}
    on_disk = {name for name in on_disk if "__pycache__" not in name}
    assert on_disk - listed == set(), f"add these to [tool.setuptools] packages in pyproject.toml: {on_disk - listed}"
    assert listed - on_disk == set(), f"listed but not on disk: {listed - on_disk}"
