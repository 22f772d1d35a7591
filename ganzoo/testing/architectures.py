"""Conformance of an architecture plugin: every declared shape builds, the outputs are what the trainer and the
store expect, and a network is rebuilt exactly from the options recorded in a model's config.json.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ganzoo.errors import GanzooError
from ganzoo.plugin.specs import ArchitectureSpec
from ganzoo.testing.support import check, describe, fail, gradient_report, is_finite, seeded, validate_spec

#: Image channel counts tried at every size: grey and RGB. An architecture must build at least one of them.
CHANNELS = (1, 3)
#: Sizes tried when an architecture declares none (it takes any size).
ANY_SIZES = (28, 32)
BATCH = 3
#: Far-out noise: an image generator's range must come from its output layer (e.g. tanh), not from small inputs.
FAR_Z = 100.0
WEIGHT_SCALE = 10.0


def check_architecture(spec: ArchitectureSpec, *, options: Mapping[str, Any] | None = None, seed: int = 0) -> None:
    """Assert that ``spec`` builds networks the trainer and the store can use; raises AssertionError if not.

    For each declared image size (28 and 32 if it declares none) and channel count 1 and 3, and for 2-D points if
    it takes points: the factory builds (or refuses that channel count with a ganzoo ConfigError; one count must
    work), ``generator(z)`` is ``[B, *shape]``, finite, in [-1, 1] for images even for large z and with its weights
    scaled up (only a bounding output layer such as tanh guarantees that after training); ``critic(x)`` is one
    finite score per sample, ``[B]``, in train and eval mode; gradients flow from the critic's score into both
    networks; the same options and seed give the same weights, and a rebuild with other initial weights loads the
    saved state dict and computes the same outputs. Undeclared shapes are refused with a GanzooError, and the
    ``critic_norm_option`` (if any) is an option that switches batch norm off in the critic.
    """
    owner = validate_spec(spec, ArchitectureSpec)
    chosen = {**spec.options, **(options or {})}
    try:
        json.dumps(chosen)
    except (TypeError, ValueError) as exc:
        fail(owner, f"options {chosen!r} are not JSON-serialisable ({exc}); config.json records them and the "
             "store rebuilds the networks from them", "use numbers, strings, booleans, None and lists")
    latent = spec.latent_dim
    check(isinstance(latent, int) and not isinstance(latent, bool) and latent >= 1, owner,
          f"latent_dim must be a whole number >= 1, got {latent!r}",
          "declare latent_dim=N (e.g. 128) in the ArchitectureSpec")
    built: list[tuple[tuple[int, ...], tuple[nn.Module, nn.Module]]] = []
    for size in spec.image_sizes or ANY_SIZES:
        working = [(shape, pair) for shape in ((c, size, size) for c in CHANNELS)
                   if (pair := _try_case(spec, shape, chosen, seed)) is not None]
        if not working and (spec.image_sizes or not spec.points):
            fail(owner, f"builds no {size}x{size} images with 1 or 3 channels",
                 "declare only the image sizes it supports (image_sizes=...)")
        built += working
    if spec.points:
        pair = _try_case(spec, (2,), chosen, seed)
        check(pair is not None, owner, "declares points=True but refuses 2-D points",
              "build 1-D point networks for shape (D,), or declare points=False")
        built.append(((2,), pair))  # type: ignore[arg-type]
    elif _builds(spec, (2,), chosen, seed):
        fail(owner, "builds networks for 2-D points but declares points=False", "declare points=True")
    if spec.image_sizes:
        odd = next(size for size in range(17, 1000) if size not in spec.image_sizes)
        check(not _builds(spec, (1, odd, odd), chosen, seed), owner,
              f"builds {odd}x{odd} images although image_sizes is {spec.image_sizes}",
              "refuse undeclared sizes with ganzoo.errors.ConfigError")
    shape, (generator, critic) = built[0]  # rebuilding is shape-independent: once is enough
    _check_rebuild(spec, shape, chosen, seed, generator, critic, f"{owner} for shape {shape}")
    _check_norm_option(spec, owner, chosen, shape, seed)


def _builds(spec: ArchitectureSpec, shape: tuple[int, ...], options: Mapping[str, Any],
            seed: int) -> tuple[nn.Module, nn.Module] | None:
    """The pair for ``shape``, or None if the factory refuses it the way a user should see (a GanzooError)."""
    owner = f"{describe(spec)} for shape {shape}"
    try:
        with seeded(seed):
            pair = spec.factory(shape, spec.latent_dim, **options)
    except GanzooError:
        return None
    except Exception as exc:  # an unsupported shape must be a clear ConfigError, not a deep torch error
        fail(owner, f"factory raised {exc!r}",
             "refuse shapes and options it does not support with ganzoo.errors.ConfigError naming the fix")
    check(isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(m, nn.Module) for m in pair), owner,
          f"factory must return (generator, critic) nn.Modules, got {type(pair).__name__}",
          "return (generator, critic), two torch.nn.Module instances")
    return pair


def _try_case(spec: ArchitectureSpec, shape: tuple[int, ...], options: Mapping[str, Any],
              seed: int) -> tuple[nn.Module, nn.Module] | None:
    """Build ``shape`` and check the pair's outputs and gradients; None if the factory refuses the shape."""
    pair = _builds(spec, shape, options, seed)
    if pair is None:
        return None
    where = f"{describe(spec)} for shape {shape}"
    generator, critic = pair
    images = len(shape) == 3
    with seeded(seed + 1):
        z = torch.randn(BATCH, spec.latent_dim)
        for mode in ("train", "eval"):
            generator.train(mode == "train")
            critic.train(mode == "train")
            with torch.no_grad():
                for scale in (1.0, FAR_Z) if mode == "eval" else (1.0,):  # eval: how a stored model samples
                    fake = generator(z * scale)
                    check(tuple(fake.shape) == (BATCH, *shape), where,
                          f"generator(z) has shape {tuple(fake.shape)} ({mode} mode), expected {(BATCH, *shape)}",
                          "reshape the generator's output to [B, *shape] (e.g. .view(z.shape[0], *shape))")
                    check(fake.is_floating_point() and is_finite(fake), where,
                          f"generator output is not finite floats ({mode} mode, |z| x {scale:g})",
                          "keep the generator's computation finite (a bounded output layer such as tanh for images)")
                    if images:
                        check(bool(fake.min() >= -1) and bool(fake.max() <= 1), where,
                              f"generator images range over [{fake.min().item():.3g}, {fake.max().item():.3g}] "
                              f"({mode} mode, z x {scale:g}), outside [-1, 1] where real images live",
                              "end the generator with tanh")
                scores = critic(torch.rand(BATCH, *shape) * 2 - 1)
                check(tuple(scores.shape) == (BATCH,), where,
                      f"critic(x) has shape {tuple(scores.shape)} ({mode} mode), expected one score per sample "
                      f"{(BATCH,)}", "flatten the last layer's output to [B] (e.g. .view(x.shape[0]))")
                check(is_finite(scores), where, f"critic scores are not finite ({mode} mode)",
                      "check the critic's layers for divisions or logs that can overflow")
        if images:
            _check_range_with_large_weights(generator, z, where)
        generator.train()
        critic.train()
        critic(generator(z)).sum().backward()
    for name, module in (("generator", generator), ("critic", critic)):
        check(gradient_report(module)[2], where, f"a critic score gives the {name} no gradient",
              "connect every layer to the output and do not detach inside forward()")
    return pair


def _check_range_with_large_weights(generator: nn.Module, z: torch.Tensor, where: str) -> None:
    """Initial weights are small (DCGAN: N(0, 0.02)), so any output looks in range; trained ones are not. With
    every weight scaled up, only an output layer that bounds the range (tanh) keeps images in [-1, 1]."""
    scaled = copy.deepcopy(generator).eval()
    with torch.no_grad():
        for p in scaled.parameters():
            p.mul_(WEIGHT_SCALE)
        fake = scaled(z)
    check(bool(fake.min() >= -1) and bool(fake.max() <= 1), where,
          f"with its weights scaled by {WEIGHT_SCALE:g} (as training grows them) the generator's images range "
          f"over [{fake.min().item():.3g}, {fake.max().item():.3g}], outside [-1, 1]", "end the generator with tanh")


def _check_rebuild(spec: ArchitectureSpec, shape: tuple[int, ...], options: Mapping[str, Any], seed: int,
                   generator: nn.Module, critic: nn.Module, where: str) -> None:
    """Same options + seed -> same weights; other weights + the saved state dict -> the same outputs."""
    again = _builds(spec, shape, options, seed)
    check(again is not None, where, "refused the same shape and options the second time",
          "make the factory deterministic: the same shape and options must always build")
    assert again is not None
    for name, first, second in (("generator", generator, again[0]), ("critic", critic, again[1])):
        # ``generator`` has had a backward and train-mode forwards (batch-norm statistics); compare parameters only
        a, b = dict(first.named_parameters()), dict(second.named_parameters())
        check(a.keys() == b.keys() and all(torch.equal(a[k].detach(), b[k].detach()) for k in a), where,
              f"two builds with the same options and seed give different {name} weights",
              "draw initial weights only from torch's global RNG (seeded by the trainer)")
    other = _builds(spec, shape, options, seed + 100)
    assert other is not None
    with seeded(seed + 2):
        z = torch.randn(BATCH, spec.latent_dim)
        x = torch.rand(BATCH, *shape) * 2 - 1
    for name, saved, rebuilt, inputs in (("generator", generator, other[0], z), ("critic", critic, other[1], x)):
        try:
            rebuilt.load_state_dict(saved.state_dict(), strict=True)
        except Exception as exc:  # any mismatch means the store cannot load a saved model
            fail(where, f"a rebuilt {name} does not load the saved state dict: {exc}",
                 "keep the parameter and buffer names and shapes the same for the same options (no random layout)")
        saved.eval()
        rebuilt.eval()
        with torch.no_grad():
            check(torch.allclose(saved(inputs), rebuilt(inputs), atol=1e-6), where,
                  f"a rebuilt {name} with the saved state dict computes different outputs",
                  "keep every piece of state in parameters or buffers (state_dict)")


def _check_norm_option(spec: ArchitectureSpec, owner: str, options: Mapping[str, Any],
                       shape: tuple[int, ...], seed: int) -> None:
    """Losses that forbid batch norm in the critic switch this option to "layer" (ganzoo.train.build)."""
    option = spec.critic_norm_option
    if option is None:
        return
    check(option in spec.options, owner, f"critic_norm_option names {option!r}, which is not one of its options "
          f"({', '.join(spec.options) or 'none'})", "declare the option with its default in options=")
    pair = _builds(spec, shape, {**options, option: "layer"}, seed)
    check(pair is not None, owner, f"refuses {option}='layer', which ganzoo sets for losses that forbid batch "
          "norm in the critic", "accept 'batch', 'layer' and 'none' for the critic_norm_option")
    assert pair is not None
    check(not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in pair[1].modules()), owner,
          f"with {option}='layer' the critic still has batch norm",
          "build the critic without nn.BatchNorm* layers when the option is 'layer' (use LayerNorm or GroupNorm(1, C))")
