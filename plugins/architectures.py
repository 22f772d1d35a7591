"""Built-in architectures: the WGAN paper's MLP and Radford et al.'s DCGAN, with and without batch norm.

| name | generator | critic | data |
|---|---|---|---|
| mlp | ``layers`` x (Linear + ReLU), linear out (tanh for images) | same, one score out | points, images |
| dcgan | z -> 4x4 (7x7 for 28), ConvT(4, 2, 1) + BN + ReLU, tanh | Conv(4, 2, 1) + norm + LReLU | 28/32/64 |
| dcgan-nobn | as dcgan, no normalisation, ``width`` filters in every layer | dcgan's critic (batch norm) | 28/32/64 |

Every factory is ``factory(shape, latent_dim, **options) -> (generator, critic)``: ``generator(z)`` maps
``[B, latent_dim]`` to ``[B, *shape]``; ``critic(x)`` maps ``[B, *shape]`` to ``[B]`` raw scores (no sigmoid:
the losses apply softplus to logits themselves). A bad shape or option raises :class:`ConfigError` up front.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor, nn

from ganzoo import ArchitectureSpec, ConfigError, hookimpl

ARJOVSKY = "Arjovsky, Chintala, Bottou 2017, Wasserstein GAN (arXiv:1701.07875)"
RADFORD = ("Radford, Metz, Chintala 2016, Unsupervised Representation Learning with Deep Convolutional "
           "Generative Adversarial Networks (arXiv:1511.06434)")
NOBN_PAPER = (f"{ARJOVSKY}, section 4.3 and figure 6: a generator without batch norm and with a constant number of "
              f"filters, the DCGAN critic kept (`--noBN` in the authors' code); WGAN still trains, the standard GAN "
              f"fails; architecture from {RADFORD}")

NORMS = ("batch", "layer", "none")
GENERATOR_NORMS = ("batch", "none")
#: Generator filters: DCGAN's, doubling at every layer inward from ``width`` next to the image; or ``width`` in every
#: layer (the WGAN paper's no-batch-norm experiment, figure 6).
GENERATOR_FILTERS = ("doubling", "constant")
#: Square image size -> side of the first feature map; each ConvTranspose(4, 2, 1) then doubles the side.
DCGAN_BASES = {28: 7, 32: 4, 64: 4}
DCGAN_CHANNELS = (1, 3)
BN_EPS = 1e-5
BN_MOMENTUM = 0.1
INIT_STD = 0.02

Pair = tuple[nn.Module, nn.Module]


# --- validation ------------------------------------------------------------------------------------------


def is_positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def check_latent_dim(arch: str, latent_dim: int) -> None:
    if not is_positive_int(latent_dim):
        raise ConfigError(f"{arch}: latent_dim must be an integer >= 1, got {latent_dim!r}",
                          hint="e.g. --set latent_dim=128")


def check_positive(arch: str, **values: int) -> None:
    for name, value in values.items():
        if not is_positive_int(value):
            raise ConfigError(f"{arch}: option {name} must be a positive integer, got {value!r}",
                              hint=f"e.g. --set arch.{name}=64")


def check_choice(arch: str, name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ConfigError(f"{arch}: unknown {name} {value!r}; choose one of {', '.join(choices)}",
                          hint=f"e.g. --set arch.{name}={choices[-1]}")


def sample_shape(arch: str, shape: Sequence[int]) -> tuple[int, ...]:
    """``shape`` as a tuple of positive ints (a store may hand back a JSON list)."""
    try:
        dims = tuple(shape)
    except TypeError:
        dims = ()
    if not dims or not all(is_positive_int(d) for d in dims):
        raise ConfigError(f"{arch}: sample shape must be a non-empty tuple of positive ints, got {shape!r}",
                          hint="(C, H, W) for images, (D,) for points")
    return dims


def dcgan_image_shape(arch: str, shape: Sequence[int]) -> tuple[int, int]:
    """(channels, size) of a square image shape DCGAN supports, or a ConfigError saying what to change."""
    dims = sample_shape(arch, shape)
    if len(dims) == 1:
        raise ConfigError(f"{arch} needs images; use mlp for 2-D data (got points of shape {dims})",
                          hint="--arch mlp")
    if len(dims) != 3:
        raise ConfigError(f"{arch} needs images shaped (C, H, W), got shape {dims}",
                          hint="--arch mlp takes any shape")
    channels, height, width = dims
    if height != width or height not in DCGAN_BASES:
        sizes = ", ".join(f"{s}x{s}" for s in DCGAN_BASES)
        raise ConfigError(f"{arch} supports square images of {sizes} only, got {height}x{width}",
                          hint="resize the data set (e.g. --set size=64) or use --arch mlp (any size)")
    if channels not in DCGAN_CHANNELS:
        raise ConfigError(f"{arch} supports 1 (grey) or 3 (RGB) channels, got {channels}",
                          hint="convert the data set to grey or RGB, or use --arch mlp")
    return channels, height


# --- layers ----------------------------------------------------------------------------------------------


def norm_layer(norm: str, channels: int, image: bool) -> list[nn.Module]:
    """Batch norm, per-sample layer norm (the WGAN-GP paper's choice), or nothing; as a 0/1-element list."""
    if norm == "batch":
        batch_norm = nn.BatchNorm2d if image else nn.BatchNorm1d
        return [batch_norm(channels, eps=BN_EPS, momentum=BN_MOMENTUM)]
    if norm == "layer":  # GroupNorm(1, C) normalises each sample over (C, H, W), whatever H and W are
        return [nn.GroupNorm(1, channels) if image else nn.LayerNorm(channels)]
    return []


def conv_block(in_channels: int, out_channels: int, *, norm: str, activation: nn.Module,
               transpose: bool = False, kernel: int = 4, stride: int = 2, padding: int = 1) -> nn.Sequential:
    """(Transposed) convolution, optional norm, activation; no conv bias before batch norm (it cancels)."""
    conv_type = nn.ConvTranspose2d if transpose else nn.Conv2d
    conv = conv_type(in_channels, out_channels, kernel, stride=stride, padding=padding, bias=norm != "batch")
    return nn.Sequential(conv, *norm_layer(norm, out_channels, image=True), activation)


def linear_stack(in_features: int, hidden: int, layers: int, norm: str = "none") -> list[nn.Module]:
    """``layers`` hidden Linear(``hidden``) layers, each followed by the optional norm and a ReLU."""
    modules: list[nn.Module] = []
    for i in range(layers):
        modules += [nn.Linear(in_features if i == 0 else hidden, hidden),
                    *norm_layer(norm, hidden, image=False), nn.ReLU()]
    return modules


def dcgan_init(module: nn.Module) -> None:
    """Radford et al.: conv weights ~ N(0, 0.02); batch-norm scale ~ N(1, 0.02), shift 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, INIT_STD)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.modules.batchnorm._BatchNorm):
        nn.init.normal_(module.weight, 1.0, INIT_STD)
        nn.init.zeros_(module.bias)


# --- networks --------------------------------------------------------------------------------------------


class Generator(nn.Module):
    """``body(z)`` reshaped to ``[B, *shape]``."""

    def __init__(self, body: nn.Module, shape: tuple[int, ...], latent_dim: int) -> None:
        super().__init__()
        self.body = body
        self.shape = shape
        self.latent_dim = latent_dim

    def forward(self, z: Tensor) -> Tensor:
        return self.body(z).view(z.shape[0], *self.shape)


class Critic(nn.Module):
    """``body(x)`` reshaped to one raw score per sample, ``[B]``."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x).view(x.shape[0])


def mlp(shape: Sequence[int], latent_dim: int, *, hidden: int = 512, layers: int = 4,
        critic_norm: str = "none") -> Pair:
    """The WGAN paper's MLP pair. A 1-D shape is points (linear output); any other is an image (tanh)."""
    dims = sample_shape("mlp", shape)
    check_latent_dim("mlp", latent_dim)
    check_positive("mlp", hidden=hidden, layers=layers)
    check_choice("mlp", "critic_norm", critic_norm, NORMS)
    features = math.prod(dims)
    output = [nn.Linear(hidden, features), *([nn.Tanh()] if len(dims) > 1 else [])]
    generator = Generator(nn.Sequential(*linear_stack(latent_dim, hidden, layers), *output), dims, latent_dim)
    critic = Critic(nn.Sequential(nn.Flatten(), *linear_stack(features, hidden, layers, critic_norm),
                                  nn.Linear(hidden, 1)))
    return generator, critic


def build_dcgan(arch: str, shape: Sequence[int], latent_dim: int, width: int, generator_norm: str,
                critic_norm: str, generator_filters: str = "doubling") -> Pair:
    """DCGAN pair for (1 or 3, s, s), s in 28/32/64: ``width`` channels next to the image, doubling inward (or, with
    ``generator_filters="constant"``, ``width`` channels in every generator layer)."""
    channels, size = dcgan_image_shape(arch, shape)
    check_latent_dim(arch, latent_dim)
    check_positive(arch, width=width)
    check_choice(arch, "generator_norm", generator_norm, GENERATOR_NORMS)
    check_choice(arch, "critic_norm", critic_norm, NORMS)
    check_choice(arch, "generator_filters", generator_filters, GENERATOR_FILTERS)
    base = DCGAN_BASES[size]
    steps = (size // base).bit_length() - 1  # stride-2 layers between the base map and the image
    widths = [width * 2**i for i in range(steps)]  # widths[i]: channels at side size / 2^(i+1)
    inward = list(zip(widths[:-1], widths[1:], strict=True))  # critic: from the image to the base map
    g_widths = widths if generator_filters == "doubling" else [width] * steps
    outward = [(c_out, c_in) for c_in, c_out in reversed(list(zip(g_widths[:-1], g_widths[1:], strict=True)))]

    g_layers = [nn.Unflatten(1, (latent_dim, 1, 1)),
                conv_block(latent_dim, g_widths[-1], norm=generator_norm, activation=nn.ReLU(), transpose=True,
                           kernel=base, stride=1, padding=0)]
    g_layers += [conv_block(c_in, c_out, norm=generator_norm, activation=nn.ReLU(), transpose=True)
                 for c_in, c_out in outward]
    g_layers += [nn.ConvTranspose2d(width, channels, 4, stride=2, padding=1), nn.Tanh()]
    generator = Generator(nn.Sequential(*g_layers), (channels, size, size), latent_dim)

    c_layers = [conv_block(channels, width, norm="none", activation=nn.LeakyReLU(0.2))]
    c_layers += [conv_block(c_in, c_out, norm=critic_norm, activation=nn.LeakyReLU(0.2))
                 for c_in, c_out in inward]
    c_layers += [nn.Conv2d(widths[-1], 1, base, stride=1, padding=0)]
    critic = Critic(nn.Sequential(*c_layers))

    generator.apply(dcgan_init)
    critic.apply(dcgan_init)
    return generator, critic


def dcgan(shape: Sequence[int], latent_dim: int, *, width: int = 64, generator_norm: str = "batch",
          critic_norm: str = "batch") -> Pair:
    """Radford et al.'s DCGAN, batch norm in both networks by default."""
    return build_dcgan("dcgan", shape, latent_dim, width, generator_norm, critic_norm)


def dcgan_nobn(shape: Sequence[int], latent_dim: int, *, width: int = 64, generator_norm: str = "none",
               critic_norm: str = "batch", generator_filters: str = "constant") -> Pair:
    """The WGAN paper's no-batch-norm experiment (its figure 6): a DCGAN generator without batch norm and with
    ``width`` filters in every layer, and DCGAN's critic (batch norm; ``critic_norm="none"`` removes it too).
    ``generator_filters="doubling"`` gives the authors' code's ``DCGAN_G_nobn`` (DCGAN's filter counts)."""
    return build_dcgan("dcgan-nobn", shape, latent_dim, width, generator_norm, critic_norm, generator_filters)


# --- registration ----------------------------------------------------------------------------------------


@hookimpl
def register_architectures(register) -> None:  # noqa: ANN001 - the hook's callback
    register(ArchitectureSpec(
        name="mlp", factory=mlp, latent_dim=128, points=True, image_sizes=(),
        options={"hidden": 512, "layers": 4, "critic_norm": "none"}, critic_norm_option="critic_norm",
        paper=ARJOVSKY,
        description="WGAN paper MLP: generator and critic each have `layers` hidden ReLU layers of `hidden` "
                    "units; 2-D points (linear output) or flattened images of any size (tanh output)."))
    register(ArchitectureSpec(
        name="dcgan", factory=dcgan, latent_dim=100, points=False, image_sizes=tuple(DCGAN_BASES),
        options={"width": 64, "generator_norm": "batch", "critic_norm": "batch"},
        critic_norm_option="critic_norm", paper=RADFORD,
        description="DCGAN: transposed-conv generator with batch norm + ReLU and tanh output; strided-conv "
                    "critic with LeakyReLU(0.2), batch norm after the first layer; N(0, 0.02) init; "
                    "28, 32 or 64 px, 1 or 3 channels."))
    register(ArchitectureSpec(
        name="dcgan-nobn", factory=dcgan_nobn, latent_dim=100, points=False, image_sizes=tuple(DCGAN_BASES),
        options={"width": 64, "generator_norm": "none", "critic_norm": "batch", "generator_filters": "constant"},
        critic_norm_option="critic_norm", paper=NOBN_PAPER,
        description="The WGAN paper's no-batch-norm experiment (figure 6): a DCGAN generator without batch norm "
                    "and with `width` filters in every layer, DCGAN's critic kept (--set critic_norm=none removes "
                    "its batch norm too; generator_filters=doubling gives the authors' code's DCGAN_G_nobn); "
                    "28, 32 or 64 px, 1 or 3 channels."))
