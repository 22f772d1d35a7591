"""docs/plugins.md stays true: every hook has a section with its exact signature and a test, and every example runs.

The meta-tests read the hooks from ganzoo/hookspecs.py itself, so a new hook fails here until it is documented and
tested. Code blocks fenced as ```python runnable are executed; the hook implementations they define are then loaded
as a plugin and put through the conformance kit, so the examples are working plugins, not sketches.
"""

from __future__ import annotations

import inspect
import re
import types
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ganzoo import API_VERSION
from ganzoo.cli import app
from ganzoo.plugin import hookspecs
from ganzoo.plugin.loading import HOOK_KINDS, build_registry, reset_registry
from ganzoo.testing import check_plugin

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
HOOKS = {name: f for name, f in vars(hookspecs).items() if hasattr(f, f"{hookspecs.PROJECT_NAME}_spec")}
RUNNABLE = re.findall(r"^```python runnable\n(.*?)^```", DOC, flags=re.MULTILINE | re.DOTALL)


def signature(function: object) -> str:
    """``def register_losses(register: Register) -> None`` from the annotations as written in hookspecs.py."""
    sig = inspect.signature(function)  # type: ignore[arg-type]
    params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    return f"def {function.__name__}({params}) -> {sig.return_annotation}"  # type: ignore[attr-defined]


def section(name: str) -> str:
    match = re.search(rf"^## {re.escape(name)}\n(.*?)(?=^## |\Z)", DOC, flags=re.MULTILINE | re.DOTALL)
    return match.group(1) if match else ""


def first_parameter(hook: str) -> str:
    """``register`` for the hooks that register entries, ``cli`` for register_commands."""
    return next(iter(inspect.signature(HOOKS[hook]).parameters))


def test_the_hooks_are_found() -> None:
    assert set(HOOKS) == {*HOOK_KINDS, "register_commands"} and len(HOOKS) == len(HOOK_KINDS) + 1


@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_every_hook_has_a_section_with_its_exact_signature_and_a_runnable_example(hook: str) -> None:
    body = section(hook)
    assert body, f"docs/plugins.md has no '## {hook}' section"
    assert signature(HOOKS[hook]) in body, f"the '## {hook}' section lacks the signature {signature(HOOKS[hook])}"
    assert "```python runnable" in body and f"def {hook}({first_parameter(hook)})" in body, \
        f"'## {hook}' has no runnable example"


@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_every_hook_is_mentioned_by_a_test_other_than_this_one(hook: str) -> None:
    tests = [p for p in (ROOT / "tests").glob("test_*.py") if p.name != Path(__file__).name]
    assert any(hook in p.read_text(encoding="utf-8") for p in tests), f"no test mentions the hook {hook}"


def test_the_docs_state_the_current_api_version_and_loading_variables() -> None:
    assert f"GANZOO_API_VERSION = {API_VERSION}" in DOC and f"(now {API_VERSION})" in DOC
    for variable in ("GANZOO_LOAD_PLUGINS", "GANZOO_TRACE_PLUGINS"):
        assert variable in section("Loading control")
    for heading in ("Tutorial: from nothing to a trained model", "What to do if it breaks", "API version"):
        assert section(heading), f"docs/plugins.md lacks '## {heading}'"


def test_every_hook_has_a_runnable_example_that_defines_it() -> None:
    assert len(RUNNABLE) >= len(HOOKS) + 1
    defined = {hook for block in RUNNABLE for hook in HOOKS if f"def {hook}({first_parameter(hook)})" in block}
    assert defined == set(HOOKS)


@pytest.mark.parametrize("index", range(len(RUNNABLE)))
def test_runnable_examples_run_and_their_entries_pass_the_conformance_kit(index: int) -> None:
    namespace: dict[str, object] = {"__name__": f"docs_example_{index}"}
    exec(compile(RUNNABLE[index], f"docs/plugins.md:runnable-{index}", "exec"), namespace)
    hooks = {name: namespace[name] for name in HOOKS if name in namespace}
    if not hooks:
        return
    plugin = types.SimpleNamespace(**hooks, GANZOO_API_VERSION=namespace.get("GANZOO_API_VERSION", 1))
    registry = build_registry([("docs", plugin, "ganzoo-docs", "0.0.1")])
    assert not registry.failures, registry.failures
    if "register_commands" in hooks:  # its command runs through the real command line
        assert len(registry.command_hooks) == 1
        reset_registry(registry)
        try:
            result = CliRunner().invoke(app, ["hello", "--name", "docs"])
        finally:
            reset_registry()
        assert result.exit_code == 0 and result.output == "hello docs\n", result.output
        return
    checked = check_plugin(registry, distribution="ganzoo-docs")
    assert len(checked) == len(registry.entries()) >= 1
