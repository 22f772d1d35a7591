"""Every registered architecture on every shape it supports: shapes, ranges, gradients, rebuilds, norms.

The cases come from the registry, so a newly registered architecture is tested the moment it is installed.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import torch
from torch import nn

from ganzoo.api import make_config
from ganzoo.errors import ConfigError
from ganzoo.plugin.loading import get_registry
from ganzoo.plugin.specs import ArchitectureSpec

ARCHS: list[ArchitectureSpec] = get_registry().entries("arch")  # type: ignore[assignment]
NORM_ARCHS = [spec for spec in ARCHS if spec.critic_norm_option is not None]
SIZED_ARCHS = [spec for spec in ARCHS if spec.image_sizes]
BATCH = 4
#: Small sizes for the options an architecture has, to keep every case fast.
SMALL = {"width": 8, "hidden": 32, "layers": 2}


def image_sizes(spec: ArchitectureSpec) -> tuple[int, ...]:
    return spec.image_sizes or (28, 32)


def cases(spec: ArchitectureSpec) -> list[tuple[int, ...]]:
    shapes = [(channels, size, size) for size in image_sizes(spec) for channels in (1, 3)]
    return shapes + ([(2,)] if spec.points else [])


def case_id(spec: ArchitectureSpec, shape: tuple[int, ...]) -> str:
    return f"{spec.name}-{'x'.join(map(str, shape))}"


def small_options(spec: ArchitectureSpec, **overrides: Any) -> dict[str, Any]:
    return {**spec.options, **{k: v for k, v in SMALL.items() if k in spec.options}, **overrides}


def default_shape(spec: ArchitectureSpec) -> tuple[int, ...]:
    return (1, 28, 28) if 28 in image_sizes(spec) else (1, image_sizes(spec)[0], image_sizes(spec)[0])


def build(spec: ArchitectureSpec, shape: tuple[int, ...], seed: int = 0,
          **options: Any) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(seed)
    return spec.factory(shape, spec.latent_dim, **options)


def has_batchnorm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())




CASES = [pytest.param(spec, shape, id=case_id(spec, shape)) for spec in ARCHS for shape in cases(spec)]
BY_ARCH = pytest.mark.parametrize("spec", ARCHS, ids=[spec.name for spec in ARCHS])
BY_NORM_ARCH = pytest.mark.parametrize("spec", NORM_ARCHS, ids=[spec.name for spec in NORM_ARCHS])


def test_builtin_architectures_are_registered() -> None:
    names = {spec.name for spec in ARCHS}
    assert {"mlp", "dcgan", "dcgan-nobn"} <= names
    registry = get_registry()
    assert registry.arch("mlp").latent_dim == 128 and registry.arch("mlp").points
    assert registry.arch("dcgan").latent_dim == 100 and registry.arch("dcgan").image_sizes == (28, 32, 64)
    assert registry.arch("dcgan-nobn").image_sizes == (28, 32, 64)


@BY_ARCH
def test_spec_metadata(spec: ArchitectureSpec) -> None:
    assert spec.description and spec.paper
    assert json.loads(json.dumps(dict(spec.options))) == dict(spec.options)
    assert all(isinstance(v, (int, float, str, bool)) for v in spec.options.values())
    if spec.critic_norm_option is not None:
        assert spec.critic_norm_option in spec.options


def test_paper_references() -> None:
    registry = get_registry()
    assert "1701.07875" in registry.arch("mlp").paper
    assert "1511.06434" in registry.arch("dcgan").paper
    assert "1701.07875" in registry.arch("dcgan-nobn").paper


@pytest.mark.parametrize(("spec", "shape"), CASES)
def test_output_shapes_and_ranges(spec: ArchitectureSpec, shape: tuple[int, ...]) -> None:
    generator, critic = build(spec, shape, **small_options(spec))
    fake = generator(torch.randn(BATCH, spec.latent_dim))
    assert fake.shape == (BATCH, *shape)
    if len(shape) == 3:
        assert fake.min() >= -1.0 and fake.max() <= 1.0
    scores = critic(fake)
    assert scores.shape == (BATCH,)
    assert torch.isfinite(scores).all()
    real = torch.rand(BATCH, *shape) * 2 - 1
    assert critic(real).shape == (BATCH,)


@pytest.mark.parametrize(("spec", "shape"), CASES)
def test_gradients_reach_every_parameter(spec: ArchitectureSpec, shape: tuple[int, ...]) -> None:
    generator, critic = build(spec, shape, **small_options(spec))
    critic(generator(torch.randn(BATCH, spec.latent_dim))).sum().backward()
    for name, module in (("generator", generator), ("critic", critic)):
        for param_name, param in module.named_parameters():
            assert param.grad is not None, f"{name}.{param_name} gets no gradient"
            assert torch.isfinite(param.grad).all(), f"{name}.{param_name} has a non-finite gradient"
            assert param.grad.abs().sum() > 0, f"{name}.{param_name} has an all-zero gradient"


@BY_ARCH
def test_rebuild_from_recorded_options_is_identical(spec: ArchitectureSpec) -> None:
    shape = cases(spec)[0]
    options = small_options(spec)
    first = build(spec, shape, seed=7, **options)
    config = {"shape": list(shape), "latent_dim": spec.latent_dim, "options": options}
    recorded = json.loads(json.dumps(config))  # as a store reads it back: the shape is now a list
    torch.manual_seed(7)
    second = spec.factory(recorded["shape"], recorded["latent_dim"], **recorded["options"])
    for a, b in zip(first, second, strict=True):
        state_a, state_b = a.state_dict(), b.state_dict()
        assert state_a.keys() == state_b.keys()
        for key in state_a:
            assert torch.equal(state_a[key], state_b[key]), key


@BY_ARCH
def test_default_options_build(spec: ArchitectureSpec) -> None:
    shape = default_shape(spec)
    generator, critic = build(spec, shape, **spec.options)
    fake = generator(torch.randn(2, spec.latent_dim))
    assert fake.shape == (2, *shape)
    assert critic(fake).shape == (2,)


@BY_NORM_ARCH
def test_layer_norm_critic_has_no_batchnorm_and_is_per_sample(spec: ArchitectureSpec) -> None:
    for shape in cases(spec):
        _, critic = build(spec, shape, **small_options(spec, **{spec.critic_norm_option: "layer"}))
        assert not has_batchnorm(critic), case_id(spec, shape)
        x = torch.randn(BATCH, *shape)
        # each score depends on its own sample only (what a per-sample gradient penalty needs)
        assert torch.allclose(critic(x)[:1], critic(x[:1]), atol=1e-5), case_id(spec, shape)


@BY_NORM_ARCH
def test_critic_norm_none_has_no_normalisation(spec: ArchitectureSpec) -> None:
    _, critic = build(spec, cases(spec)[0], **small_options(spec, **{spec.critic_norm_option: "none"}))
    assert not any(isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm))
                   for m in critic.modules())


@BY_NORM_ARCH
def test_gradient_penalty_double_backward(spec: ArchitectureSpec) -> None:
    shape = cases(spec)[0]
    _, critic = build(spec, shape, **small_options(spec, **{spec.critic_norm_option: "layer"}))
    x = torch.randn(BATCH, *shape, requires_grad=True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    penalty = (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()
    penalty.backward()
    assert all(p.grad is not None for p in critic.parameters() if p.dim() > 1)


def test_dcgan_has_batchnorm_and_the_first_critic_layer_has_none() -> None:
    registry = get_registry()
    generator, critic = build(registry.arch("dcgan"), (1, 28, 28), **small_options(registry.arch("dcgan")))
    assert has_batchnorm(generator) and has_batchnorm(critic)
    first_conv_block = critic.body[0]
    assert not has_batchnorm(first_conv_block), "DCGAN: no batch norm on the critic's first layer"


def conv_shapes(module: nn.Module) -> list[tuple[int, ...]]:
    return [tuple(m.weight.shape) for m in module.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]


def test_dcgan_nobn_is_the_wgan_papers_experiment_a_constant_width_generator_without_bn_and_dcgans_critic() -> None:
    registry = get_registry()
    nobn, dcgan = registry.arch("dcgan-nobn"), registry.arch("dcgan")
    for shape in cases(nobn):
        width = 8
        generator, critic = build(nobn, shape, width=width)
        assert not has_batchnorm(generator), case_id(nobn, shape)
        convs = [m for m in generator.modules() if isinstance(m, nn.ConvTranspose2d)]
        assert len(convs) >= 3 and all(m.out_channels == width for m in convs[:-1]), case_id(nobn, shape)
        assert convs[-1].out_channels == shape[0]
        _, dcgan_critic = build(dcgan, shape, width=width)
        assert conv_shapes(critic) == conv_shapes(dcgan_critic) and has_batchnorm(critic), case_id(nobn, shape)
    _, bare = build(nobn, (1, 28, 28), width=8, critic_norm="none")
    assert not has_batchnorm(bare)
    doubling, _ = build(nobn, (1, 64, 64), width=8, generator_filters="doubling")  # the authors' DCGAN_G_nobn
    dcgan_generator, _ = build(dcgan, (1, 64, 64), width=8)
    assert conv_shapes(doubling) == conv_shapes(dcgan_generator) and not has_batchnorm(doubling)
    config = make_config("dcgan-nobn", "wgan", "digits", sets={"critic_norm": "none"})
    assert config.arch_options == {"width": 64, "generator_norm": "none", "critic_norm": "none",
                                   "generator_filters": "constant"}
    assert config.sources["arch.critic_norm"] == "--set"  # recorded in config.json (and so in the model card)


def test_dcgan_nobn_can_still_ask_for_a_norm() -> None:
    nobn = get_registry().arch("dcgan-nobn")
    options = small_options(nobn, generator_norm="batch", critic_norm="layer")
    generator, critic = build(nobn, (1, 32, 32), **options)
    assert has_batchnorm(generator) and not has_batchnorm(critic)
    assert any(isinstance(m, nn.GroupNorm) for m in critic.modules())


@pytest.mark.parametrize("name", ["dcgan", "dcgan-nobn"])
def test_dcgan_init(name: str) -> None:
    spec = get_registry().arch(name)
    for network in build(spec, (3, 32, 32), **spec.options):
        convs = [m for m in network.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
        assert convs
        for conv in convs:
            if conv.weight.numel() >= 2000:
                assert conv.weight.std().item() == pytest.approx(0.02, rel=0.1)
                assert abs(conv.weight.mean().item()) < 0.002
            if conv.bias is not None:
                assert torch.all(conv.bias == 0)
        for bn in (m for m in network.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)):
            assert bn.weight.mean().item() == pytest.approx(1.0, abs=0.01)
            assert 0.005 < bn.weight.std().item() < 0.04
            assert torch.all(bn.bias == 0)


@BY_ARCH
def test_batchnorm_eps_and_momentum(spec: ArchitectureSpec) -> None:
    """``BatchNorm2d(C, 0.8)`` sets eps = 0.8: every batch norm must have the default eps and momentum."""
    keys = ("generator_norm", "critic_norm", spec.critic_norm_option)
    batch = {k: "batch" for k in keys if k in spec.options}
    networks = build(spec, cases(spec)[0], **small_options(spec, **batch))
    norms = [m for net in networks for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if batch:
        assert norms, f"{spec.name} with {batch} has no batch norm"
    for bn in norms:
        assert bn.eps == pytest.approx(1e-5)
        assert bn.momentum == pytest.approx(0.1)


# --- bad input -------------------------------------------------------------------------------------------

BAD_INPUTS = [
    ("dcgan", (3, 48, 48), {}, ["48x48", "28x28", "32x32", "64x64", "--set size=64", "mlp"]),
    ("dcgan-nobn", (1, 48, 48), {}, ["dcgan-nobn", "48x48", "--set size=64"]),
    ("dcgan", (3, 32, 28), {}, ["square", "32x28"]),
    ("dcgan", (2, 32, 32), {}, ["channels", "1", "3", "got 2"]),
    ("dcgan", (4, 64, 64), {}, ["channels", "got 4"]),
    ("dcgan", (2,), {}, ["dcgan needs images", "use mlp for 2-d data"]),
    ("dcgan", (32, 32), {}, ["(c, h, w)"]),
    ("dcgan", (1, 28, 28), {"critic_norm": "spectral"}, ["critic_norm", "'spectral'", "batch, layer, none"]),
    ("dcgan", (1, 28, 28), {"generator_norm": "layer"}, ["generator_norm", "'layer'", "batch, none"]),
    ("dcgan", (1, 28, 28), {"width": 0}, ["width", "positive integer", "got 0"]),
    ("dcgan", (1, 28, 28), {"width": 8.5}, ["width", "positive integer"]),
    ("mlp", (2,), {"hidden": -1}, ["hidden", "positive integer"]),
    ("mlp", (2,), {"layers": 0}, ["layers", "positive integer"]),
    ("mlp", (2,), {"critic_norm": "group"}, ["critic_norm", "'group'", "batch, layer, none"]),
    ("mlp", (), {}, ["shape"]),
    ("mlp", (2, 0), {}, ["shape", "positive"]),
]


@pytest.mark.parametrize(("name", "shape", "options", "words"), BAD_INPUTS,
                         ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD_INPUTS)])
def test_bad_input_is_a_config_error(name: str, shape: tuple[int, ...], options: dict[str, Any],
                                     words: list[str]) -> None:
    spec = get_registry().arch(name)
    with pytest.raises(ConfigError) as caught:
        spec.factory(shape, spec.latent_dim, **{**spec.options, **options})
    message = str(caught.value).lower()
    for word in words:
        assert word.lower() in message
    assert caught.value.hint, "every error says how to fix it"


@BY_ARCH
@pytest.mark.parametrize("latent_dim", [0, -3])
def test_bad_latent_dim(spec: ArchitectureSpec, latent_dim: int) -> None:
    with pytest.raises(ConfigError, match="latent_dim"):
        spec.factory(cases(spec)[0], latent_dim, **small_options(spec))


@BY_NORM_ARCH
def test_unknown_critic_norm(spec: ArchitectureSpec) -> None:
    options = small_options(spec, **{spec.critic_norm_option: "nope"})
    with pytest.raises(ConfigError, match=spec.critic_norm_option):
        spec.factory(cases(spec)[0], spec.latent_dim, **options)


@pytest.mark.parametrize("spec", SIZED_ARCHS, ids=[spec.name for spec in SIZED_ARCHS])
def test_unsupported_image_size(spec: ArchitectureSpec) -> None:
    size = max(spec.image_sizes) + 3
    with pytest.raises(ConfigError, match="supports"):
        spec.factory((1, size, size), spec.latent_dim, **small_options(spec))
