"""Loading control beyond tests/test_registry.py: every hook end to end, GANZOO_LOAD_PLUGINS's name matching and
typo report, build_registry(load=...), the API-version message, and what the CLI shows for broken plugins.

Installed distributions are simulated the way pip leaves them: a module and a ``*.dist-info`` folder with
``entry_points.txt`` on sys.path, so discovery goes through importlib.metadata exactly as for a real install.
"""

from __future__ import annotations

import json
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from plugin_support import builtin_plugins, install, plugin_module
from typer.testing import CliRunner

from ganzoo import API_VERSION, hookimpl
from ganzoo.cli import app
from ganzoo.errors import DuplicateNameError, UnknownNameError
from ganzoo.plugin.loading import HOOK_KINDS, build_registry, normalise_distribution, reset_registry
from ganzoo.plugin.registry import Registry
from ganzoo.plugin.specs import ArchitectureSpec, DatasetSpec, ExperimentSpec, LossSpec, MetricSpec

WORKING = """
from ganzoo import hookimpl, LossSpec
from ganzoo_plugins.losses import non_saturating
GANZOO_API_VERSION = {api}
@hookimpl
def register_losses(register):
    register(LossSpec(name="{loss}", factory=non_saturating))
"""
TYPO = """
from ganzoo import hookimpl, ArchitectureSpec
from ganzoo_plugins.architectures import mlp
@hookimpl
def register_architecture(register):
    register(ArchitectureSpec(name="typo-arch", factory=mlp))
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Three installed plugin distributions: two that work, one with a misspelled hook."""
    install(tmp_path, "ganzoo-lc-one", "ganzoo_lc_one", WORKING.format(api=API_VERSION, loss="lc-one"))
    install(tmp_path, "Ganzoo_LC_Two", "ganzoo_lc_two", WORKING.format(api=API_VERSION, loss="lc-two"), "2.5")
    install(tmp_path, "ganzoo-lc-typo", "ganzoo_lc_typo", TYPO)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("GANZOO_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("GANZOO_TRACE_PLUGINS", raising=False)
    reset_registry()
    yield tmp_path
    reset_registry()  # the next test rebuilds the process registry from its own environment


def third_party(registry: Registry) -> set[str]:
    return {p.distribution for p in registry.plugins if not p.builtin}


def test_load_list_matches_names_in_any_case_and_either_separator(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANZOO_LOAD_PLUGINS", " GANZOO_LC_ONE , ganzoo-lc-two ")
    registry = build_registry()
    assert third_party(registry) == {"ganzoo-lc-one", "Ganzoo_LC_Two"} and not registry.failures
    assert registry.loss("lc-two").provider.version == "2.5"
    assert normalise_distribution("Ganzoo_LC.Two") == "ganzoo-lc-two"


def test_unset_loads_every_installed_plugin_and_reports_the_broken_one(site: Path) -> None:
    registry = build_registry()
    assert {"ganzoo-lc-one", "Ganzoo_LC_Two"} <= third_party(registry)
    typo = [f for f in registry.failures if f.distribution == "ganzoo-lc-typo"]
    assert len(typo) == 1 and "register_architecture" in typo[0].error and "register_architectures" in typo[0].error


def test_a_requested_distribution_that_is_not_installed_is_reported_with_the_closest_name(
        site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANZOO_LOAD_PLUGINS", "ganzoo-lc-onee")
    registry = build_registry()
    (failure,) = registry.failures
    assert failure.distribution == "ganzoo-lc-onee (not installed)" and "did you mean 'ganzoo-lc-one'" in failure.error
    assert not third_party(registry) and registry.loss("wgan-gp")  # built-ins still load


def test_load_argument_overrides_the_environment(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANZOO_LOAD_PLUGINS", "")
    assert third_party(build_registry(load=["ganzoo-lc-one"])) == {"ganzoo-lc-one"}
    monkeypatch.setenv("GANZOO_LOAD_PLUGINS", "ganzoo-lc-one")
    assert third_party(build_registry(load=[])) == set()


def test_cli_shows_broken_plugins_and_warns_on_every_command(site: Path) -> None:
    runner = CliRunner()
    shown = runner.invoke(app, ["plugins", "--json"])
    data = json.loads(shown.stdout)
    assert {"distribution": "Ganzoo_LC_Two", "version": "2.5"}.items() <= next(
        p for p in data["plugins"] if p["distribution"] == "Ganzoo_LC_Two").items()
    (failed,) = [f for f in data["failed"] if f["distribution"] == "ganzoo-lc-typo"]
    assert "register_architecture" in failed["error"]
    listed = runner.invoke(app, ["list", "--kind", "loss", "lc-*"])
    assert listed.exit_code == 0 and "lc-one  [ganzoo-lc-one 1.0]" in listed.stdout
    assert "warning: plugin 'main' (ganzoo-lc-typo) was not loaded" in listed.stderr


def test_api_version_mismatch_names_the_plugin_and_both_versions() -> None:
    future = plugin_module("ganzoo_future", WORKING.format(api=API_VERSION + 1, loss="future"))
    current = plugin_module("ganzoo_current", WORKING.format(api=API_VERSION, loss="current"))
    registry = build_registry([("future", future, "ganzoo-future", "3.0"), ("current", current, "ganzoo-cur", "1")])
    (failure,) = registry.failures
    assert failure.name == "future" and f"API version {API_VERSION + 1}" in failure.error
    assert f"speaks version {API_VERSION}" in failure.error
    with pytest.raises(UnknownNameError):
        registry.loss("future")  # nothing of the refused plugin is registered
    assert registry.loss("current")  # a plugin that declares the matching version loads


HOOK_ENTRIES = {
    "register_losses": ("loss", lambda: LossSpec(name="hook-loss", factory=lambda: None)),
    "register_architectures": ("arch", lambda: ArchitectureSpec(name="hook-arch", factory=lambda: None)),
    "register_datasets": ("dataset", lambda: DatasetSpec(name="hook-dataset", factory=lambda: None)),
    "register_metrics": ("metric", lambda: MetricSpec(name="hook-metric", factory=lambda: None)),
    "register_experiments": ("experiment", lambda: ExperimentSpec(
        name="hook-experiment", factory=lambda: None, claim="a claim", verdict_rule="a rule",
        budgets={"tiny": "t", "small": "s", "paper": "p"})),
}


@pytest.mark.parametrize("hook", list(HOOK_ENTRIES))
def test_every_hook_registers_its_kind_with_provenance_and_is_traced(hook: str, monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    kind, make = HOOK_ENTRIES[hook]
    assert HOOK_KINDS[hook] == kind
    plugin = types.SimpleNamespace(**{hook: hookimpl(lambda register: register(make()))})
    monkeypatch.setenv("GANZOO_TRACE_PLUGINS", "1")
    registry = build_registry([("only", plugin, "ganzoo-hooks", "0.3")])
    (spec,) = registry.entries(kind)
    assert spec.name == f"hook-{kind}"
    assert (spec.provider.distribution, spec.provider.version) == ("ganzoo-hooks", "0.3")
    assert registry.plugins[0].hooks == (hook,)
    err = capsys.readouterr().err
    assert f"{hook}() of plugin 'only' (ganzoo-hooks)" in err and f"registered {kind} 'hook-{kind}'" in err


def test_registering_the_wrong_kind_from_a_hook_is_reported() -> None:
    plugin = types.SimpleNamespace(register_losses=hookimpl(lambda register: register("lsgan")))
    registry = build_registry([("wrong", plugin, "ganzoo-wrong", "1")])
    (failure,) = registry.failures
    assert failure.distribution == "ganzoo-wrong" and "not a ganzoo LossSpec" in failure.error


def test_the_core_never_imports_the_built_in_plugins() -> None:
    """Built-ins are plugins like any other: the core reaches them only through the registry, never by import
    (else a plugin's code would be a hidden dependency of the core, and the layering in docs/architecture.md a lie)."""
    import ast

    core = Path(__file__).resolve().parents[1] / "ganzoo"
    offenders = []
    for path in sorted(core.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.relative_to(core.parent)}:{node.lineno} imports {name}"
                          for name in names if name.split(".")[0] == "ganzoo_plugins"]
    assert not offenders, "\n".join(offenders)


# --- register_commands: plugins add commands to the `ganzoo` command line ---------------------------------------

COMMANDS = """
import typer
from ganzoo import GanzooError, hookimpl
group = typer.Typer(help="Things the mine plugin does.")
@group.command("greet")
def greet(name: str = "world") -> None:
    typer.echo(f"greetings, {name}")
@group.command("fail")
def fail() -> None:
    raise GanzooError("the mine plugin failed on purpose", hint="it always does")
@hookimpl
def register_commands(cli):
    cli.add_typer(group, name="mine")
"""


@pytest.fixture
def with_commands(request) -> Iterator[Registry]:
    """The built-ins plus one plugin implementing register_commands with ``request.param`` as its source."""
    registry = build_registry([*builtin_plugins(), ("mine", plugin_module("mine_commands", request.param),
                                                    "ganzoo-mine", "1.0")])
    reset_registry(registry)
    yield registry
    reset_registry()


@pytest.mark.parametrize("with_commands", [COMMANDS], indirect=True)
def test_a_plugins_commands_appear_in_help_and_run_like_built_in_ones(with_commands, capsys, monkeypatch):
    assert [p.plugin for p, _ in with_commands.command_hooks] == ["extractors", "mine"]
    runner = CliRunner()
    assert "mine" in runner.invoke(app, ["--help"]).output and "extractor" in runner.invoke(app, ["--help"]).output
    assert runner.invoke(app, ["mine", "greet", "--name", "you"]).output == "greetings, you\n"
    monkeypatch.setattr("sys.argv", ["ganzoo", "mine", "fail"])
    with pytest.raises(SystemExit) as info:
        from ganzoo.cli import main

        main()
    assert info.value.code == 2 and "the mine plugin failed on purpose" in capsys.readouterr().err


CLASHING = """
import typer
from ganzoo import hookimpl
@hookimpl
def register_commands(cli):
    @cli.command("train")
    def train() -> None:
        typer.echo("not ganzoo's train")
"""


@pytest.mark.parametrize("with_commands", [CLASHING], indirect=True)
def test_a_plugin_command_with_a_built_in_name_is_refused_naming_both(with_commands):
    result = CliRunner().invoke(app, ["--help"])
    assert isinstance(result.exception, DuplicateNameError)
    assert "plugin 'mine' (ganzoo-mine) adds the command 'train'" in result.exception.message


BROKEN_COMMANDS = """
from ganzoo import hookimpl
@hookimpl
def register_commands(cli):
    raise RuntimeError("cannot build my commands")
"""


@pytest.mark.parametrize("with_commands", [BROKEN_COMMANDS], indirect=True)
def test_a_plugin_whose_commands_fail_to_build_is_a_warning_and_the_rest_works(with_commands):
    result = CliRunner().invoke(app, ["extractor", "list", "--json"])
    assert result.exit_code == 0, result.output
    assert "plugin 'mine' (ganzoo-mine) could not add its commands: RuntimeError('cannot build my commands')" in \
        result.output
    assert {row["name"] for row in json.loads(result.output[result.output.index("["):])} >= {"fashion-cnn"}
