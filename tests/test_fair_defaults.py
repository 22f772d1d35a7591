"""Fair defaults: a data set's recommendations depend on the loss family, never silently replace a loss's paper
settings, are printed at the start of a run, and are shown by `ganzoo list`."""

from __future__ import annotations

import json
import types

import pytest
from typer.testing import CliRunner

import ganzoo
from ganzoo import DatasetSpec, LossSpec, TrainingDefaults
from ganzoo.api import make_config, make_trainer
from ganzoo.cli import app
from ganzoo.plugin.loading import build_registry, get_registry
from ganzoo.plugin.specs import ANY_LOSS, LOSS_FAMILIES, PAPER_KEYS
from ganzoo.train.resolve import resolve_config

REGISTRY = get_registry()
LOSSES = REGISTRY.entries("loss")
DATASETS = REGISTRY.entries("dataset")
TOY = [s for s in DATASETS if s.recommendations()]
runner = CliRunner()


def paper_value(config, spec: LossSpec, key: str):
    return config.loss_options.get(key) if key in spec.options else getattr(config, key)


def same(a, b) -> bool:
    return list(a) == list(b) if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) else a == b


def test_every_builtin_loss_declares_a_family():
    assert {s.name: s.family for s in LOSSES} == {
        "minimax": "gan", "non-saturating": "gan", "wgan": "wgan", "wgan-gp": "penalty", "wgan-lp": "penalty"}
    assert set(LOSS_FAMILIES) == {"gan", "wgan", "penalty"}


@pytest.mark.parametrize("dataset", DATASETS, ids=lambda s: s.name)
def test_no_data_set_recommends_a_paper_setting_for_every_loss(dataset):
    by_family = dataset.recommendations()
    assert not set(by_family.get(ANY_LOSS, {})) & set(PAPER_KEYS), dataset.name
    assert set(by_family) <= {ANY_LOSS, *LOSS_FAMILIES}, f"{dataset.name} keys a family no loss declares"


@pytest.mark.parametrize("dataset", TOY, ids=lambda s: s.name)
@pytest.mark.parametrize("loss", LOSSES, ids=lambda s: s.name)
def test_each_toy_recommendation_keeps_the_loss_family_optimiser_and_prints_every_difference(dataset, loss):
    config = make_config("mlp", loss.name, dataset.name)
    expected = dataset.recommended_for(loss)
    for key, value in expected.items():
        assert same(getattr(config, key), value), (dataset.name, loss.name, key)
        assert config.sources[key].startswith(f"recommended by data set {dataset.name!r}")
    # the optimiser itself, its betas and n_critic are always the paper's
    for key in ("optimizer", "betas", "n_critic"):
        assert same(getattr(config, key), loss.defaults()[key]), (loss.name, key)
    for key, paper in loss.defaults().items():
        actual = paper_value(config, loss, key)
        noted = [n for n in config.notes if n.startswith(f"{key} ")]
        if same(actual, paper):
            assert not noted, (key, config.notes)
        else:
            assert len(noted) == 1 and "instead of the paper's" in noted[0] and f"data set {dataset.name!r}" in noted[0]


@pytest.mark.parametrize("loss", LOSSES, ids=lambda s: s.name)
def test_without_a_toy_data_set_a_run_uses_exactly_the_paper_defaults(loss):
    """The README's claim, word for word: `ganzoo train dcgan LOSS` trains with the loss's paper defaults."""
    config = make_config("dcgan", loss.name)  # fashion-mnist, the default data set
    for key, paper in loss.defaults().items():
        assert same(paper_value(config, loss, key), paper), (loss.name, key)
        source = config.sources.get(key) if key not in loss.options else None
        assert source in (None, f"paper default of loss {loss.name!r}"), (key, source)
    assert not [n for n in config.notes if "instead of the paper's" in n]


def test_recommendations_can_be_left_out_for_the_paper_setting():
    loss = REGISTRY.loss("wgan")
    config = resolve_config(REGISTRY, "mlp", "wgan", "gaussians8", {"steps": 1500}, recommended=False)
    assert (config.optimizer, config.lr, config.batch_size, config.n_critic) == (
        "rmsprop", loss.training.lr, loss.training.batch_size, loss.training.n_critic)
    assert config.latent_dim == REGISTRY.arch("mlp").latent_dim and not config.notes


def test_a_user_choice_that_differs_from_the_paper_is_printed_with_its_source():
    config = make_config("mlp", "wgan", "gaussians8", lr=1e-3, sets={"clip": 0.02})
    assert "lr 0.001 instead of the paper's 5e-05 (loss 'wgan'): command line" in config.notes
    assert "clip 0.02 instead of the paper's 0.01 (loss 'wgan'): --set" in config.notes


def test_the_run_prints_the_differences_at_its_start(tmp_path):
    lines: list[str] = []
    config = make_config("mlp", "wgan-gp", "gaussians8", steps=1, device="cpu", batch_size=32,
                         sets={"arch.hidden": 8, "arch.layers": 1})
    make_trainer(config, REGISTRY, tmp_path / "run", progress=False, echo=lines.append).run()
    assert lines[0].startswith("note: lr 0.001 instead of the paper's 0.0001 (loss 'wgan-gp'): recommended by data "
                               "set 'gaussians8' for the 'penalty' loss family")
    assert "note: batch_size 32 instead of the paper's 64 (loss 'wgan-gp'): command line" in lines
    recorded = json.loads((tmp_path / "run" / "config.json").read_text())
    assert recorded["config"]["notes"] == config.notes
    assert recorded["config"]["sources"]["lr"] == "recommended by data set 'gaussians8' for the 'penalty' loss family"


def _registry_with(spec):
    """The built-ins plus one plugin that registers ``spec``."""
    import ganzoo_plugins.architectures as architectures
    import ganzoo_plugins.datasets as datasets
    import ganzoo_plugins.losses as losses

    module = types.ModuleType("ganzoo_third")
    hook = "register_losses" if isinstance(spec, LossSpec) else "register_datasets"
    setattr(module, hook, ganzoo.hookimpl(lambda register: register(spec)))
    builtins = [(m.__name__, m, "ganzoo", ganzoo.__version__) for m in (losses, architectures, datasets)]
    return build_registry([*builtins, ("third", module, "ganzoo-third", "1.0")])


def test_a_third_party_loss_without_a_family_trains_with_its_paper_defaults_on_toy_data():
    from ganzoo_plugins.losses import non_saturating

    paper = TrainingDefaults(optimizer="adam", lr=3e-4, betas=(0.5, 0.99), n_critic=2, batch_size=32)
    registry = _registry_with(LossSpec(name="mine", factory=non_saturating, training=paper))
    config = resolve_config(registry, "mlp", "mine", "gaussians8")
    assert (config.lr, config.batch_size, config.n_critic, config.betas) == (3e-4, 32, 2, [0.5, 0.99])
    assert config.latent_dim == 2 and "for every loss" in config.sources["latent_dim"]


def test_a_third_party_loss_that_declares_a_family_gets_its_recommendations():
    from ganzoo_plugins.losses import wgan_gp

    registry = _registry_with(LossSpec(name="my-penalty", factory=wgan_gp, family="penalty",
                                       training=TrainingDefaults(lr=1e-4, betas=(0.0, 0.9), n_critic=5)))
    config = resolve_config(registry, "mlp", "my-penalty", "gaussians8")
    assert config.lr == 1e-3 and "'penalty' loss family" in config.sources["lr"]


@pytest.mark.parametrize(("recommended", "words"), [
    ({"lr": 1e-3, "steps": 100}, ["sets lr for every loss", "per loss family"]),
    ({"any": {"batch_size": 256}}, ["sets batch_size for every loss"]),
    ({"any": {"steps": 100}, "lr": 1e-3}, ["mixes settings and loss families"]),
    ({"Bad Family": {"lr": 1e-3}}, ["neither 'any' nor a loss family"]),
])
def test_a_data_set_that_recommends_paper_settings_for_every_loss_is_refused(recommended, words):
    registry = _registry_with(DatasetSpec(name="unfair", factory=lambda: None, recommended=recommended))
    [failure] = registry.failures
    assert all(w in failure.error for w in words), failure.error


def test_a_flat_recommendation_of_data_settings_means_every_loss():
    spec = DatasetSpec(name="flat", factory=lambda: None, recommended={"steps": 100, "latent_dim": 2})
    spec.validate()
    assert spec.recommendations() == {"any": {"steps": 100, "latent_dim": 2}}
    assert spec.recommended_for(REGISTRY.loss("wgan")) == {"steps": 100, "latent_dim": 2}


def test_a_loss_family_must_be_a_name():
    with pytest.raises(ganzoo.PluginError, match="family"):
        LossSpec(name="x", factory=lambda: None, family="any").validate()


def test_list_shows_families_and_recommendations():
    rows = {(r["kind"], r["name"]): r for r in json.loads(runner.invoke(app, ["list", "--json"]).output)}
    assert rows[("loss", "wgan")]["family"] == "wgan"
    ring = rows[("dataset", "gaussians8")]["recommended"]
    assert ring == REGISTRY.dataset("gaussians8").recommendations() and ring["penalty"]["lr"] == 1e-3
    assert rows[("dataset", "fashion-mnist")]["recommended"] == {}
    text = runner.invoke(app, ["list", "--kind", "dataset", "gaussians8"]).output
    assert "recommended for 'penalty' losses: lr=0.001" in text and "recommended for every loss: steps=1500" in text
    assert "family: penalty" in runner.invoke(app, ["list", "--kind", "loss", "wgan-gp"]).output
