"""ganzoo-lsgan's own tests: ganzoo's conformance kit (its pytest plugin) plus the formulas on cases worked by hand.

Run from this folder after `pip install -e .`:  pytest
"""

from __future__ import annotations

import pytest
import torch
from ganzoo.api import train
from ganzoo.errors import ConfigError
from ganzoo.testing import entries, plugin_registry
from ganzoo_plugins.architectures import dcgan

from ganzoo_lsgan.architectures import dcgan_sn
from ganzoo_lsgan.losses import HingeObjective, LeastSquaresObjective, lsgan
from ganzoo_lsgan.relativistic import RaLSGANObjective, RaSGANObjective

DISTRIBUTION = "ganzoo-lsgan"


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.ganzoo_entries(DISTRIBUTION)
def test_every_entry_passes_ganzoo_conformance(ganzoo_entry, ganzoo_check):
    ganzoo_check(ganzoo_entry)


def test_the_distribution_registers_its_three_entries_with_provenance():
    found = {(spec.kind, spec.name): spec for spec in entries(DISTRIBUTION)}
    assert set(found) == {("loss", "lsgan"), ("loss", "hinge"), ("loss", "rasgan"), ("loss", "ralsgan"),
                          ("arch", "dcgan-sn")}
    assert all(spec.provider.version == "0.1.0" for spec in found.values())


def test_lsgan_declares_the_papers_optimiser():
    defaults = plugin_registry(DISTRIBUTION).loss("lsgan").defaults()
    assert defaults["optimizer"] == "adam" and defaults["lr"] == 2e-4 and defaults["betas"] == [0.5, 0.999]
    assert defaults["n_critic"] == 1 and (defaults["a"], defaults["b"], defaults["c"]) == (0.0, 1.0, 1.0)


def test_lsgan_formula_by_hand():
    real, fake = torch.tensor([0.5, 2.0]), torch.tensor([0.0, -1.0])
    objective = LeastSquaresObjective()
    # critic: 1/2 mean((0.5-1)^2, (2-1)^2) + 1/2 mean(0^2, (-1)^2) = 1/2 * 0.625 + 1/2 * 0.5
    assert objective.critic(real, fake).item() == pytest.approx(0.5625)
    # generator: 1/2 mean((0-1)^2, (-1-1)^2) = 1/2 * 2.5
    assert objective.generator(fake).item() == pytest.approx(1.25)
    # the critic's optimum: real scored b, fakes scored a; the generator's: fakes scored c
    assert objective.critic(torch.ones(3), torch.zeros(3)).item() == 0.0
    assert objective.generator(torch.ones(3)).item() == 0.0
    other = LeastSquaresObjective(a=-1.0, b=1.0, c=0.0)  # the paper's eq. (8) coding
    assert other.critic(real, fake).item() == pytest.approx(0.5 * 0.625 + 0.5 * (1.0 + 0.0) / 2)


def test_lsgan_gradient_pulls_scores_to_their_targets():
    real, fake = torch.tensor([0.5, 2.0], requires_grad=True), torch.tensor([0.0, -1.0], requires_grad=True)
    LeastSquaresObjective().critic(real, fake).backward()
    # d/dD(x) of 1/2 mean((D - 1)^2) is (D - 1) / n: descent moves 0.5 up and 2.0 down towards 1
    assert real.grad.tolist() == pytest.approx([-0.25, 0.5]) and fake.grad.tolist() == pytest.approx([0.0, -0.5])


def test_hinge_formula_by_hand():
    real, fake = torch.tensor([0.5, 2.0]), torch.tensor([0.0, -1.0])
    objective = HingeObjective()
    # critic: mean(max(0, 1-0.5), max(0, 1-2)) + mean(max(0, 1+0), max(0, 1-1)) = 0.25 + 0.5
    assert objective.critic(real, fake).item() == pytest.approx(0.75)
    assert objective.generator(fake).item() == pytest.approx(0.5)


def test_relativistic_formulas_by_hand():
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([0.0, -2.0])  # means 2 and -1
    # r = real - mean(fake) = [2, 4]; f = fake - mean(real) = [-2, -4]
    ralsgan = RaLSGANObjective()
    assert ralsgan.critic(real, fake).item() == pytest.approx((1 + 9) / 2 + (1 + 9) / 2)  # (r-1)^2, (f+1)^2
    assert ralsgan.generator(fake, real).item() == pytest.approx((9 + 25) / 2 + (9 + 25) / 2)  # (f-1)^2, (r+1)^2
    rasgan = RaSGANObjective()
    sp = torch.nn.functional.softplus
    r, f = torch.tensor([2.0, 4.0]), torch.tensor([-2.0, -4.0])
    assert rasgan.critic(real, fake).item() == pytest.approx((sp(-r).mean() + sp(f).mean()).item())
    assert rasgan.generator(fake, real).item() == pytest.approx((sp(-f).mean() + sp(r).mean()).item())
    with pytest.raises(ConfigError, match="real batch"):
        ralsgan.generator(fake)


def test_relativistic_losses_ask_for_the_real_batch_and_declare_the_papers_setup():
    registry = plugin_registry(DISTRIBUTION)
    for name in ("rasgan", "ralsgan"):
        spec = registry.loss(name)
        assert spec.factory().needs_real_in_generator_step is True
        defaults = spec.defaults()
        assert (defaults["lr"], defaults["betas"], defaults["n_critic"], defaults["batch_size"]) == \
            (2e-4, [0.5, 0.999], 1, 32)
    assert registry.loss("lsgan").factory().needs_real_in_generator_step is False


@pytest.mark.parametrize(("options", "word"), [({"a": 1.0, "b": 1.0}, "above the fake target"),
                                               ({"c": float("nan")}, "finite number"), ({"a": "x"}, "finite")])
def test_bad_lsgan_options_are_clear_errors(options, word):
    with pytest.raises(ConfigError, match=word):
        lsgan(**options)


def test_dcgan_sn_has_dcgans_generator_and_a_spectrally_normalised_critic_without_batch_norm():
    torch.manual_seed(0)
    reference, _ = dcgan((1, 28, 28), 100, width=8, critic_norm="none")  # built the same way up to the SN
    torch.manual_seed(0)
    generator, critic = dcgan_sn((1, 28, 28), 100, width=8)
    assert all(torch.equal(a, b) for a, b in zip(reference.state_dict().values(), generator.state_dict().values(),
                                                  strict=True))
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in critic.modules())
    convs = [m for m in critic.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(torch.nn.utils.parametrize.is_parametrized(m, "weight") for m in convs)
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    for _ in range(30):  # training-mode forwards run the power iteration
        critic(x)
    for conv in convs:
        sigma = torch.linalg.matrix_norm(conv.weight.detach().flatten(1), ord=2).item()
        assert sigma == pytest.approx(1.0, abs=0.05)


def test_dcgan_sn_refuses_sizes_dcgan_does_not_support():
    with pytest.raises(ConfigError, match="28x28, 32x32, 64x64"):
        dcgan_sn((1, 48, 48), 100)
    with pytest.raises(ConfigError, match="power_iterations"):
        dcgan_sn((1, 28, 28), 100, power_iterations=0)


@pytest.mark.parametrize("loss", ["lsgan", "ralsgan"])
def test_a_short_training_run_with_its_entries(tmp_path, ganzoo_home, loss):
    result = train("dcgan-sn", loss, "digits", registry=plugin_registry(DISTRIBUTION), out=tmp_path / "run",
                   steps=2, batch_size=16, sets={"width": 8}, device="cpu", progress=False, echo=lambda _: None)
    assert result.step == 2 and (tmp_path / "run" / "curves.png").exists()
    assert all(isinstance(result.last[k], float) for k in ("critic_loss", "generator_loss"))
