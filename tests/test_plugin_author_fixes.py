"""What a plugin author met (issue 11): declared modes, an uninstalled data-set plugin, load warnings from every
command, the penalty contract's error, misspelled penalty options, shareable exports, metric provenance."""

from __future__ import annotations

import json
import types

import pytest
import torch
from plugin_support import builtin_plugins, install
from typer.testing import CliRunner

import ganzoo
from ganzoo import Constraint, DatasetSpec, GanzooError, LossSpec, SampledData
from ganzoo.cli import app
from ganzoo.errors import ConfigError
from ganzoo.eval.engine import evaluate
from ganzoo.eval.subjects import Subject
from ganzoo.plugin.loading import build_registry, get_registry, reset_registry
from ganzoo.store import ModelStore
from ganzoo.testing import check_loss

CORNERS = ((1.0, 1.0), (1.0, -1.0), (-1.0, 1.0), (-1.0, -1.0))


def corners() -> SampledData:
    """Four Gaussians on a square; the data itself carries no modes (the spec declares them)."""
    centres = torch.tensor(CORNERS)

    def sampler(n, generator, device):
        index = torch.randint(4, (n,), generator=generator, device=generator.device)
        return (centres[index] + 0.05 * torch.randn(n, 2, generator=generator, device=generator.device)).to(device)

    return SampledData("corners", sampler, (2,))


def registry_with(*specs, distribution="ganzoo-corners"):
    module = types.ModuleType("ganzoo_corners")
    module.register_datasets = ganzoo.hookimpl(lambda register: [register(s) for s in specs])
    return build_registry([*builtin_plugins(), ("corners", module, distribution, "2.5")])


def corners_subject(dataset="corners", plugins=None) -> Subject:
    centres = torch.tensor(CORNERS)
    return Subject(lambda z: centres[z[:, 0].abs().mul(10).long() % 4] + 0.01 * z, 2, (2,), "points", dataset, {},
                   "model corners-test:1", plugins=plugins or {})


@pytest.mark.parametrize("declared", [True, False])
def test_a_data_set_that_declares_its_modes_gets_the_modes_metric(declared):
    spec = DatasetSpec(name="corners", factory=corners, **({"modes": CORNERS, "mode_std": 0.05} if declared else {}))
    registry = registry_with(spec)
    assert not registry.failures
    if declared:
        picked = evaluate(corners_subject(), ["modes"], registry=registry, n=400)
        assert {r["metric"]: r["value"] for r in picked.results}["modes"] == 4.0
    default = evaluate(corners_subject(), registry=registry, n=200)
    metrics = {r["plugin"] for r in default.results}
    if declared:
        assert metrics == {"modes", "w1"} and not default.notes
    else:
        assert metrics == {"w1"}
        assert default.notes == ["modes left out: data set 'corners' declares no modes (a data-set plugin declares "
                                 "them with DatasetSpec(modes=..., mode_std=...))"]
        with pytest.raises(GanzooError, match="declares none"):
            evaluate(corners_subject(), ["modes"], registry=registry, n=200)


@pytest.mark.parametrize(("modes", "std", "word"), [
    (((1.0, 0.0), (1.0,)), 0.1, "same length"), (CORNERS, None, "mode_std"), (CORNERS, -1.0, "mode_std")])
def test_malformed_modes_are_refused_when_the_plugin_loads(modes, std, word):
    registry = registry_with(DatasetSpec(name="corners", factory=corners, modes=modes, mode_std=std))
    [failure] = registry.failures
    assert word in failure.error


def test_a_model_whose_data_set_plugin_is_gone_names_the_distribution():
    plugins = {"dataset": {"name": "corners", "distribution": "ganzoo-corners", "version": "2.5"}}
    with pytest.raises(GanzooError) as caught:
        evaluate(corners_subject(plugins=plugins), registry=get_registry(), n=100)
    assert "needs the data set 'corners', provided by the distribution ganzoo-corners" in caught.value.message
    assert "ganzoo-corners 2.5" in caught.value.message and "pip install ganzoo-corners" in caught.value.hint


def test_sample_without_the_data_set_plugin_draws_only_the_generated_points(tiny_points_run, tmp_path):
    from ganzoo.store.sampling import sample_to_file

    store = ModelStore()
    record = store.register(tiny_points_run.run_dir, name="ring")
    without_datasets = build_registry([p for p in builtin_plugins() if p[0] != "datasets"])
    heard: list[str] = []
    try:
        reset_registry(without_datasets)
        out = sample_to_file(record.ref, tmp_path / "ring.png", n=16, store=store, echo=heard.append)
    finally:
        reset_registry()
    assert out.is_file()
    assert heard == ["note: the scatter shows the generated points only: data set 'gaussians8' is not installed "
                     "(pip install ganzoo)"]


def test_every_command_that_loads_plugins_warns_about_a_broken_one(tmp_path, monkeypatch):
    install(tmp_path, "ganzoo-broken", "ganzoo_broken", "raise ImportError('missing dependency xyz')\n", "1.2",
            entry="broken")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("GANZOO_LOAD_PLUGINS", raising=False)
    reset_registry()
    try:
        result = CliRunner().invoke(app, ["eval", "--run", str(tmp_path / "nothing"), "-m", "its-metric"])
    finally:
        reset_registry()
    assert "warning: plugin 'broken' (ganzoo-broken) was not loaded" in result.output
    assert "missing dependency xyz" in result.output


def test_an_export_does_not_carry_the_run_folder_path(tiny_points_run, tmp_path):
    store = ModelStore()
    store.register(tiny_points_run.run_dir, name="ring")
    assert json.loads((store.get("ring").path / "config.json").read_text())["source_run"] == str(
        tiny_points_run.run_dir.resolve())
    out = store.export("ring", tmp_path / "exported")
    text = (out / "config.json").read_text()
    assert str(tiny_points_run.run_dir.parent) not in text
    assert json.loads(text)["source_run"] == tiny_points_run.run_dir.name
    assert ModelStore().import_(out, "again").ref == "again:1"  # still a valid model folder


def test_results_record_the_metric_plugins_distribution_and_version():
    registry = registry_with(DatasetSpec(name="corners", factory=corners, modes=CORNERS, mode_std=0.05))
    results = evaluate(corners_subject(), ["w1"], registry=registry, n=100).results
    assert {(r["plugin_distribution"], r["plugin_version"]) for r in results} == {("ganzoo", ganzoo.__version__)}


class BareTensorPenalty(Constraint):
    def penalty(self, critic, real, fake):
        return (critic(real) ** 2).mean()  # the mistake: no per-sample norms


def test_a_penalty_that_returns_a_bare_tensor_fails_the_kit_with_the_fix():
    from ganzoo_plugins.losses import WassersteinObjective

    spec = LossSpec(name="bare", factory=lambda: ganzoo.ComposedLoss(WassersteinObjective(), BareTensorPenalty()))
    with pytest.raises(AssertionError) as caught:
        check_loss(spec)
    text = str(caught.value)
    assert "BareTensorPenalty.penalty returned a Tensor of shape ()" in text
    assert "(penalty, per-sample gradient norms) or None" in text and "fix: return the penalty term" in text
    assert "iteration over a 0-d tensor" not in text


@pytest.mark.parametrize("factory", ["wgan_gp", "wgan_lp"])
def test_penalty_factories_refuse_misspelled_options_from_python(factory):
    import ganzoo_plugins.losses as losses

    with pytest.raises(ConfigError, match="has no option 'lamda'") as caught:
        getattr(losses, factory)(lamda=1)
    assert "did you mean 'lambda'" in caught.value.hint
    assert getattr(losses, factory)(**{"lambda": 1.0}).constraint.lambda_ == 1.0


@pytest.mark.parametrize("loss", [s for s in get_registry().entries("loss")
                                  if s.factory(**s.options).forbids_critic_batchnorm], ids=lambda s: s.name)
def test_the_layer_norm_note_cites_the_loss_own_paper(loss):
    from ganzoo.api import make_config
    from ganzoo.train.build import enforce_critic_requirements

    registry = get_registry()
    config = make_config("dcgan", loss.name, "digits")
    enforce_critic_requirements(config, registry, loss.factory(**loss.options))
    [note] = [n for n in config.notes if n.startswith("critic normalisation")]
    assert loss.paper and note.endswith(f"({loss.paper})")
    assert "WGAN-GP paper, section 4" not in note


def test_train_help_explains_bare_and_prefixed_options():
    result = CliRunner().invoke(app, ["train", "--help"], terminal_width=200)
    text = " ".join(result.output.split())
    assert "A bare option name (width=32) works when exactly one of the three has it" in text
    assert "the prefix (arch.width=32" in text


def test_every_conformance_kit_failure_names_its_fix():
    """Every check()/fail() of the kit passes a fix, and every AssertionError it raises itself says "fix:" (the one
    that sums up check_plugin's failures repeats theirs)."""
    import ast
    from pathlib import Path

    import ganzoo.testing

    kit = Path(ganzoo.testing.__file__).parent
    missing = []
    for path in sorted(kit.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("check", "fail") \
                    and path.name != "support.py":
                needed = 4 if node.func.id == "check" else 3
                fix = node.args[needed - 1] if len(node.args) >= needed else None
                if fix is None or (isinstance(fix, ast.Constant) and not fix.value):
                    missing.append(f"{path.name}:{node.lineno}")
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) \
                    and getattr(node.exc.func, "id", "") == "AssertionError":
                text = ast.unparse(node.exc)
                if "fix:" not in text and "fail conformance" not in text:
                    missing.append(f"{path.name}:{node.lineno}")
    assert not missing, f"conformance failures without a fix: {missing}"
