"""The plugin registry: discovery through the entry-point group, provenance, and the errors around it."""

from __future__ import annotations

import types

import pytest
from ganzoo_plugins import losses as builtin_losses
from plugin_support import install, plugin_module

import ganzoo
from ganzoo.errors import DuplicateNameError, PluginError, UnknownNameError
from ganzoo.plugin.loading import build_registry
from ganzoo.plugin.specs import LossSpec, Provider, TrainingDefaults

HINGE = """
from ganzoo import hookimpl, LossSpec
from ganzoo_plugins.losses import non_saturating
@hookimpl
def register_losses(register):
    register(LossSpec(name="hinge", aliases=("hinge-gan",), factory=non_saturating))
"""


def test_builtins_register_through_the_entry_point_group(registry):
    assert {p.name for p in registry.plugins} >= {"losses", "architectures", "datasets", "metrics"}
    assert all(p.builtin and p.distribution == "ganzoo" for p in registry.plugins)
    spec = registry.loss("wgan-gp")
    assert spec.provider.distribution == "ganzoo" and spec.provider.version == ganzoo.__version__
    assert spec.provider.plugin == "losses"
    assert "register_losses" in next(p for p in registry.plugins if p.name == "losses").hooks


def test_hookimpl_is_importable_from_the_package_root():
    from ganzoo import hookimpl
    from ganzoo.plugin.hookspecs import hookimpl as original

    assert hookimpl is original


def test_unknown_name_suggests_close_matches_and_ganzoo_list(registry):
    with pytest.raises(UnknownNameError) as err:
        registry.loss("wgan-pg")
    text = str(err.value)
    assert "unknown loss 'wgan-pg'" in text and "'wgan-gp'" in text and "ganzoo list --kind loss" in text


def test_third_party_plugin_records_its_provider():
    registry = build_registry([("losses", builtin_losses, "ganzoo", "0.1.0"),
                               ("hinge", plugin_module("ganzoo_hinge", HINGE), "ganzoo-hinge", "2.3")])
    spec = registry.loss("hinge-gan")
    assert spec.name == "hinge" and spec.provider.distribution == "ganzoo-hinge" and spec.provider.version == "2.3"
    assert [p.builtin for p in registry.plugins] == [True, False]  # built-in means distribution "ganzoo"


def test_duplicate_name_names_both_providers():
    clash = HINGE.replace('name="hinge", aliases=("hinge-gan",)', 'name="wgan-gp"')
    with pytest.raises(DuplicateNameError) as err:
        build_registry([("losses", builtin_losses, "ganzoo", "0.1.0"),
                        ("clash", plugin_module("ganzoo_clash", clash), "ganzoo-clash", "1.0")])
    text = str(err.value)
    assert "'wgan-gp'" in text and "ganzoo 0.1.0" in text and "ganzoo-clash 1.0" in text


def test_duplicate_alias_is_also_a_clash():
    clash = HINGE.replace('aliases=("hinge-gan",)', 'aliases=("one-sided",)')
    with pytest.raises(DuplicateNameError, match="one-sided"):
        build_registry([("losses", builtin_losses, "ganzoo", "0.1.0"),
                        ("clash", plugin_module("ganzoo_clash", clash), "ganzoo-clash", "1.0")])


def test_misspelled_hook_is_rejected_with_the_plugin_named_and_others_still_load():
    typo = HINGE.replace("def register_losses", "def register_loses")
    registry = build_registry([("typo", plugin_module("ganzoo_typo", typo), "ganzoo-typo", "1.0"),
                               ("losses", builtin_losses, "ganzoo", "0.1.0")])
    assert [f.name for f in registry.failures] == ["typo"]
    assert "register_loses" in registry.failures[0].error
    assert registry.loss("wgan") is not None


def test_a_plugin_that_raises_while_registering_is_reported_and_skipped():
    boom = "from ganzoo import hookimpl\n@hookimpl\ndef register_losses(register):\n    raise RuntimeError('boom')\n"
    registry = build_registry([("boom", plugin_module("ganzoo_boom", boom), "ganzoo-boom", "1.0"),
                               ("losses", builtin_losses, "ganzoo", "0.1.0")])
    assert registry.failures[0].name == "boom" and "boom" in registry.failures[0].error
    assert registry.loss("minimax")


@pytest.mark.parametrize(("spec", "word"), [
    (LossSpec(name="Bad_Name", factory=lambda: None), "lower-kebab-case"),
    (LossSpec(name="ok", factory=42), "callable"),
    (LossSpec(name="ok", factory=lambda: None, training=TrainingDefaults(betas=(0, 0.9))), "betas"),
    (LossSpec(name="ok", factory=lambda: None, training=TrainingDefaults(lr=-1.0)), "lr"),
])
def test_malformed_entries_are_refused_with_the_reason(spec, word):
    module = types.ModuleType("ganzoo_bad")
    module.register_losses = ganzoo.hookimpl(lambda register: register(spec))
    registry = build_registry([("bad", module, "ganzoo-bad", "1.0")])
    assert word in registry.failures[0].error


ENTRY_POINT_PLUGIN = """
from ganzoo import hookimpl, LossSpec
from ganzoo_plugins.losses import non_saturating
@hookimpl
def register_losses(register):
    register(LossSpec(name="ep-loss", factory=non_saturating))
"""


@pytest.fixture
def installed_fake_plugins(tmp_path, monkeypatch):
    """Two real distributions on sys.path with `ganzoo` entry points: one works, one fails to import."""
    install(tmp_path, "ganzoo-ep", "ganzoo_ep", ENTRY_POINT_PLUGIN, "1.2", entry="ep")
    install(tmp_path, "ganzoo-broken", "ganzoo_broken", "raise ImportError('missing dependency xyz')\n", "1.2",
            entry="broken")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("GANZOO_LOAD_PLUGINS", raising=False)


def test_entry_point_discovery_loads_third_parties_and_reports_broken_ones(installed_fake_plugins):
    registry = build_registry()
    assert registry.loss("ep-loss").provider.distribution == "ganzoo-ep"
    assert registry.loss("wgan-gp").provider.distribution == "ganzoo"  # built-ins still load
    (failure,) = registry.failures
    assert failure.distribution == "ganzoo-broken" and "missing dependency xyz" in failure.error


def test_ganzoo_load_plugins_restricts_third_party_loading(installed_fake_plugins, monkeypatch):
    monkeypatch.setenv("GANZOO_LOAD_PLUGINS", "")
    registry = build_registry()
    assert not registry.failures and registry.loss("wgan")
    with pytest.raises(UnknownNameError):
        registry.loss("ep-loss")
    monkeypatch.setenv("GANZOO_LOAD_PLUGINS", "ganzoo-ep")
    registry = build_registry()
    assert registry.loss("ep-loss") and not registry.failures


def test_trace_plugins_prints_hook_calls(installed_fake_plugins, monkeypatch, capsys):
    monkeypatch.setenv("GANZOO_TRACE_PLUGINS", "1")
    monkeypatch.setenv("GANZOO_LOAD_PLUGINS", "ganzoo-ep")
    build_registry()
    err = capsys.readouterr().err
    assert "register_losses() of plugin 'ep'" in err and "registered loss 'ep-loss'" in err


def test_list_filters_by_kind_and_wildcard(registry):
    assert [s.name for s in registry.entries("loss", "wgan*")] == ["wgan", "wgan-gp", "wgan-lp"]
    assert [s.name for s in registry.entries("loss", "one-*")] == ["wgan-lp"]  # aliases match too
    with pytest.raises(PluginError):
        registry.add(object(), Provider("x", "1", "x"))  # type: ignore[arg-type]
