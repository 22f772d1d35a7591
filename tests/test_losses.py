"""The five losses, checked against the papers and against known bugs of other libraries (docs/science.md)."""

from __future__ import annotations

import math

import pytest
import torch
from ganzoo_plugins.losses import GradientPenalty, interpolate
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from ganzoo.errors import ConfigError
from ganzoo.plugin.loading import get_registry
from ganzoo.plugin.loss import ComposedLoss, GANLoss

LOSS_NAMES = ["minimax", "non-saturating", "wgan", "wgan-gp", "wgan-lp"]


class Linear(nn.Module):
    """f(x) = <w, x> over every non-batch dim: its gradient is w everywhere, so |grad f| = |w| exactly."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.w).flatten(1).sum(1)


class FixedScores(nn.Module):
    """A critic that returns given logits regardless of input, so D(x~) can be pinned near 0."""

    def __init__(self, logit: float) -> None:
        super().__init__()
        self.logit = nn.Parameter(torch.tensor(logit))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logit.expand(x.shape[0]) + 0 * x.flatten(1).sum(1)


def make(registry, name: str, **options) -> GANLoss:
    spec = registry.loss(name)
    return spec.factory(**{**spec.options, **options})


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_every_paper_loss_is_registered_with_its_paper_defaults(registry, name):
    spec = registry.loss(name)
    expected = {
        "minimax": ("adam", 2e-4, (0.5, 0.999), 1),
        "non-saturating": ("adam", 2e-4, (0.5, 0.999), 1),
        "wgan": ("rmsprop", 5e-5, None, 5),
        "wgan-gp": ("adam", 1e-4, (0.0, 0.9), 5),
        "wgan-lp": ("adam", 1e-4, (0.0, 0.9), 5),
    }[name]
    t = spec.training
    assert (t.optimizer, t.lr, t.betas, t.n_critic) == expected
    assert t.batch_size == 64
    if t.betas is not None:
        assert all(isinstance(b, float) for b in t.betas)  # torch >= 2.14 rejects int betas
    assert spec.paper and spec.description
    assert spec.options == {"wgan": {"clip": 0.01}, "wgan-gp": {"lambda": 10.0},
                            "wgan-lp": {"lambda": 10.0}}.get(name, {})


def test_one_sided_is_an_alias_of_wgan_lp(registry):
    assert registry.loss("one-sided") is registry.loss("wgan-lp")


def _generator_grad_wrt_logit(loss: GANLoss, logit: float) -> float:
    scores = torch.tensor([logit], requires_grad=True)
    value = loss.objective.generator(scores)  # type: ignore[attr-defined]
    (grad,) = torch.autograd.grad(value, scores)
    return grad.item()


def test_minimax_generator_gradient_vanishes_where_non_saturating_does_not(registry):
    minimax, ns = make(registry, "minimax"), make(registry, "non-saturating")
    logit = -12.0  # D(G(z)) = sigmoid(-12) ~ 6e-6: the discriminator confidently rejects the fakes
    d = torch.sigmoid(torch.tensor(logit)).item()
    g_minimax = _generator_grad_wrt_logit(minimax, logit)
    g_ns = _generator_grad_wrt_logit(ns, logit)
    assert g_minimax == pytest.approx(-d, rel=1e-4)  # saturates: about -D(x~)
    assert g_ns == pytest.approx(-(1 - d), rel=1e-4)  # about -1
    assert abs(g_ns) > 1e4 * abs(g_minimax)


def test_minimax_and_non_saturating_share_the_discriminator_objective(registry):
    real, fake = torch.randn(16), torch.randn(16)
    a = make(registry, "minimax").objective.critic(real, fake)
    b = make(registry, "non-saturating").objective.critic(real, fake)
    expected = -(torch.log(torch.sigmoid(real)).mean() + torch.log(1 - torch.sigmoid(fake)).mean())
    assert torch.allclose(a, b) and torch.allclose(a, expected, atol=1e-5)


def test_logit_losses_stay_finite_where_log_sigmoid_underflows(registry):
    real, fake = torch.full((4,), -200.0), torch.full((4,), 200.0)  # log(sigmoid(-200)) = -inf in float32
    for name in ("minimax", "non-saturating"):
        loss = make(registry, name)
        assert math.isfinite(loss.objective.critic(real, fake).item())
        assert math.isfinite(loss.objective.generator(real).item())
    assert loss.objective.critic(real, fake).item() == pytest.approx(400.0, rel=1e-4)


@pytest.mark.parametrize("name", ["wgan", "wgan-gp", "wgan-lp"])
def test_wasserstein_losses_log_w_estimate_as_minus_the_unpenalised_critic_loss(registry, name):
    critic = Linear(torch.tensor([0.3, -0.2]))
    real, fake = torch.randn(32, 2), torch.randn(32, 2) + 1
    step = make(registry, name).critic_loss(critic, real, fake)
    expected_w = critic(real).mean() - critic(fake).mean()
    assert step.w_estimate.item() == pytest.approx(expected_w.item(), abs=1e-6)
    assert step.objective.item() == pytest.approx(-expected_w.item(), abs=1e-6)


def _linear_case(shape, norm):
    w = torch.randn(shape)
    return w * (norm / w.norm())


@pytest.mark.parametrize("shape", [(2,), (3, 8, 8)])
@pytest.mark.parametrize("w_norm", [0.25, 0.8, 1.0, 1.7, 3.0])
def test_gradient_penalty_of_a_linear_critic_is_exact(shape, w_norm):
    torch.manual_seed(0)
    critic = Linear(_linear_case(shape, w_norm))
    real, fake = torch.randn(8, *shape), torch.randn(8, *shape)
    two, norms = GradientPenalty(10.0, one_sided=False).penalty(critic, real, fake)
    one, _ = GradientPenalty(10.0, one_sided=True).penalty(critic, real, fake)
    assert torch.allclose(norms, torch.full((8,), w_norm), atol=1e-5)
    assert two.item() == pytest.approx(10 * (w_norm - 1) ** 2, abs=1e-5)
    assert one.item() == pytest.approx(10 * max(0.0, w_norm - 1) ** 2, abs=1e-5)


@settings(max_examples=40, deadline=None)
@given(w=st.lists(st.floats(-3, 3), min_size=3, max_size=3), lam=st.floats(0, 20), batch=st.integers(1, 9))
def test_gradient_penalty_law_for_any_linear_critic(w, lam, batch):
    wt = torch.tensor(w, dtype=torch.float64)
    critic = Linear(wt)
    real, fake = torch.randn(batch, 3, dtype=torch.float64), torch.randn(batch, 3, dtype=torch.float64)
    penalty, _ = GradientPenalty(lam, one_sided=False).penalty(critic, real, fake)
    assert penalty.item() == pytest.approx(lam * (wt.norm().item() - 1) ** 2, rel=1e-9, abs=1e-9)


def test_penalty_norm_is_per_sample_over_all_of_chw_not_per_pixel_or_batch():
    torch.manual_seed(0)
    w = _linear_case((3, 4, 4), 2.0)
    critic = Linear(w)
    real, fake = torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4)
    penalty, norms = GradientPenalty(1.0, one_sided=False).penalty(critic, real, fake)
    grad = w.expand(5, 3, 4, 4)
    per_pixel = ((grad.norm(2, dim=1) - 1) ** 2).mean()  # known bug: norm over channels only
    whole_batch = (grad.norm(2) - 1) ** 2  # known bug: one norm for the whole batch
    assert penalty.item() == pytest.approx(1.0, abs=1e-5)  # (|w| - 1)^2 with |w| = 2
    assert abs(per_pixel.item() - penalty.item()) > 0.1
    assert abs(whole_batch.item() - penalty.item()) > 0.1


def test_interpolation_draws_one_eps_per_sample():
    torch.manual_seed(0)
    real, fake = torch.zeros(64, 3, 4, 4), torch.ones(64, 3, 4, 4)
    x_hat = interpolate(real, fake)  # = 1 - eps for every element of a sample
    assert x_hat.requires_grad
    per_sample = x_hat.detach().flatten(1)
    assert torch.allclose(per_sample, per_sample[:, :1].expand_as(per_sample))  # one eps within a sample
    assert per_sample[:, 0].unique().numel() == 64  # a different eps for each sample
    assert per_sample.min() >= 0 and per_sample.max() <= 1


def test_interpolation_detaches_the_fakes():
    fake = torch.randn(4, 2, requires_grad=True)
    x_hat = interpolate(torch.randn(4, 2), fake * 2)
    x_hat.sum().backward()
    assert fake.grad is None


@pytest.mark.parametrize("name", ["wgan-gp", "wgan-lp"])
def test_penalty_and_wasserstein_term_are_one_objective(registry, name):
    torch.manual_seed(0)
    critic = Linear(_linear_case((2,), 3.0))
    step = make(registry, name).critic_loss(critic, torch.randn(8, 2), torch.randn(8, 2))
    assert step.loss.item() == pytest.approx(step.objective.item() + step.penalty.item(), abs=1e-5)
    assert step.loss.requires_grad and step.grad_norm.item() == pytest.approx(3.0, abs=1e-5)
    assert step.penalty.item() == pytest.approx(10 * (3.0 - 1) ** 2, abs=1e-4)


def test_weight_clipping_clamps_every_parameter(registry):
    critic = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))
    with torch.no_grad():
        for p in critic.parameters():
            p.mul_(100)
    make(registry, "wgan", clip=0.05).after_critic_step(critic)
    clip = torch.tensor(0.05).item()  # 0.05 as float32 stores it
    for p in critic.parameters():
        assert p.abs().max().item() <= clip
    assert any((p.abs() == clip).any() for p in critic.parameters())


@pytest.mark.parametrize(("name", "options", "word"), [
    ("wgan", {"clip": 0.0}, "clip"), ("wgan", {"clip": -1}, "clip"),
    ("wgan-gp", {"lambda": -1.0}, "lambda"), ("wgan-lp", {"lambda": -0.5}, "lambda")])
def test_out_of_range_loss_options_are_clear_errors(registry, name, options, word):
    with pytest.raises(ConfigError, match=word):
        make(registry, name, **options)


@pytest.mark.parametrize("spec", [pytest.param(s, id=s.name) for s in get_registry().entries("loss")])
def test_every_registered_loss_gives_finite_values_and_correct_gradient_flow(spec):
    """Parametrised over the registry: a new loss plugin is checked the moment it is installed."""
    torch.manual_seed(0)
    loss = spec.factory(**spec.options)
    critic = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 1), nn.Flatten(0))
    gen = nn.Linear(3, 2)
    real, fake = torch.randn(16, 2), gen(torch.randn(16, 3))
    step = loss.critic_loss(critic, real, fake.detach())
    assert torch.isfinite(step.loss)
    step.loss.backward()
    assert all(p.grad is not None for p in critic.parameters())
    assert all(p.grad is None for p in gen.parameters())  # the critic step must not reach the generator
    critic.zero_grad()
    g = loss.generator_loss(critic, fake)
    assert torch.isfinite(g)
    g.backward()
    assert all(p.grad is not None for p in gen.parameters())
    if isinstance(loss, ComposedLoss) and loss.objective.estimates_wasserstein:
        assert step.w_estimate is not None
