"""Conformance of a data-set plugin: shape, value range and determinism of what the trainer draws from it.

The trainer moves the data to its device once (``to``), draws training batches with a generator it owns
(``batch``), draws evaluation samples (``sample``) and saves the position in the data order with ``state_dict`` so
that a resumed run sees the very batches it would have seen. All of that is checked here on a few samples.

A data set whose files are not on this machine (e.g. a torchvision download while offline) raises its own
:class:`ganzoo.errors.DataError`; the check then skips (under pytest) with that error as the reason. The check never
downloads: an option called ``download`` is set to False.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NoReturn

import torch
from torch import Tensor

from ganzoo.errors import DataError, GanzooError
from ganzoo.plugin.data import IMAGES, POINTS, RealData
from ganzoo.plugin.specs import DatasetSpec
from ganzoo.testing.support import check, cpu_generator, fail, is_finite, validate_spec

N = 16


def check_dataset(spec: DatasetSpec, *, options: Mapping[str, Any] | None = None, n: int = N, seed: int = 0) -> None:
    """Assert that ``spec`` yields data the trainer can use; raises AssertionError naming the first problem.

    Builds the data set from its declared options (overridden by ``options``; ``download`` forced off), then
    checks: a :class:`RealData` of kind images ``(C, H, W)`` or points ``(D,)``; ``batch`` and ``sample`` give
    ``[n, *shape]`` finite float32 tensors, images in [-1, 1]; the same seed gives the same samples and another seed
    other samples; ``state_dict``/``load_state_dict`` replay the same batches (resume); ``to("cpu")`` keeps shape
    and kind; ``describe()`` and ``recommended`` are JSON-serialisable.
    """
    owner = validate_spec(spec, DatasetSpec)
    chosen = {**spec.options, **(options or {})}
    if "download" in chosen:
        chosen["download"] = False  # conformance runs offline; the data set's own error says what is missing
    try:
        json.dumps({"recommended": dict(spec.recommended), "options": chosen})
    except (TypeError, ValueError) as exc:
        fail(owner, f"options or recommended settings are not JSON-serialisable ({exc})",
             "use numbers, strings, booleans, None and lists (and dicts of them) in options and recommended")
    try:
        data = spec.build(**chosen)
    except DataError as exc:
        _unavailable(owner, exc)
    except GanzooError as exc:
        fail(owner, f"cannot be built from options {chosen!r}: {exc.message}",
             "give every option a working default, or pass options= to check_dataset")
    except Exception as exc:  # a missing file or bad option must be a GanzooError, not a traceback
        fail(owner, f"factory(**{chosen!r}) raised {exc!r}",
             "raise ganzoo.errors.DataError (missing or corrupt data) or ConfigError (bad option) naming the fix")
    check(isinstance(data, RealData), owner, f"factory returned {type(data).__name__}, not a ganzoo.RealData",
          "return ganzoo.TensorData or SampledData")
    check(data.kind in (IMAGES, POINTS), owner, f"kind must be {IMAGES!r} or {POINTS!r}, got {data.kind!r}",
          "pass kind=ganzoo.IMAGES or kind=ganzoo.POINTS to TensorData / SampledData")
    shape = tuple(data.shape)
    check(len(shape) == (3 if data.kind == IMAGES else 1) and all(isinstance(d, int) and d >= 1 for d in shape),
          owner, f"shape {shape} does not fit kind {data.kind!r}: images are (C, H, W), points are (D,)",
          "give images as [N, C, H, W] samples and points as [N, D]")
    modes = getattr(data, "modes", None)
    if modes is not None:
        check(isinstance(modes, Tensor) and modes.dim() == 2 and tuple(modes.shape[1:]) == shape, owner,
              f"modes must be a [K, {', '.join(map(str, shape))}] tensor of mode centres, got "
              f"{getattr(modes, 'shape', modes)!r}", "declare one centre per mode, each shaped like a sample")
        std = getattr(data, "mode_std", None)
        check(is_finite(std) and std > 0, owner, f"modes are declared without mode_std > 0 (got {std!r})",
              "declare each mode's standard deviation: DatasetSpec(modes=..., mode_std=0.02)")
    try:
        json.dumps(data.describe())
    except (TypeError, ValueError) as exc:
        fail(owner, f"describe() is not JSON-serialisable ({exc}); it is written to config.json",
             "return only JSON values from describe() (name, kind, shape, ...)")

    first = _draw(owner, data, "sample", n, seed)
    check(torch.equal(first, _draw(owner, data, "sample", n, seed)), owner,
          "sample() with two generators seeded alike gives different samples", "draw only with the given generator")
    check(not torch.equal(first, _draw(owner, data, "sample", n, seed + 1)), owner,
          "sample() gives the same samples for different seeds", "draw with the given generator")
    _draw(owner, data, "batch", n, seed)  # move past the start of the order, then test resuming from here
    saved = data.state_dict()
    rng = cpu_generator(seed + 2)
    rng_state = rng.get_state()
    replay = [_draw(owner, data, "batch", n, None, rng) for _ in range(3)]
    data.load_state_dict(saved)
    rng.set_state(rng_state)
    again = [_draw(owner, data, "batch", n, None, rng) for _ in range(3)]
    check(all(torch.equal(a, b) for a, b in zip(replay, again, strict=True)), owner,
          "after load_state_dict(state_dict()) and the same generator state, batch() gives other batches, so a "
          "resumed run would not see the data it would have seen", "keep the position in the order in state_dict")
    moved = data.to("cpu")
    check(isinstance(moved, RealData) and tuple(moved.shape) == shape and moved.kind == data.kind, owner,
          "to('cpu') does not return the same kind of data with the same shape",
          "return a RealData of the same kind and shape from to(device)")


def _draw(owner: str, data: RealData, method: str, n: int, seed: int | None,
          rng: torch.Generator | None = None) -> Tensor:
    try:
        x = getattr(data, method)(n, rng if rng is not None else cpu_generator(seed or 0))
    except Exception as exc:  # the finding
        fail(owner, f"{method}({n}, generator) raised {exc!r}",
             "draw with the generator passed in, on its device, and return a tensor")
    expected = (n, *data.shape)
    check(isinstance(x, Tensor) and tuple(x.shape) == expected, owner,
          f"{method}({n}) gave {getattr(x, 'shape', x)!r}, expected a tensor of shape {expected}",
          "return exactly n samples shaped like the data set's shape")
    check(x.dtype == torch.float32 and is_finite(x), owner, f"{method}() must give finite float32 values, got "
          f"{x.dtype}", "scale uint8 images with ganzoo.to_unit_range")
    if data.kind == IMAGES:
        check(bool(x.min() >= -1) and bool(x.max() <= 1), owner,
              f"{method}() images range over [{x.min().item():.3g}, {x.max().item():.3g}], not within [-1, 1]",
              "scale images to [-1, 1] (ganzoo.to_unit_range does it for uint8)")
    return x


def _unavailable(owner: str, exc: DataError) -> NoReturn:
    """Skip (under pytest) a data set whose data is not on this machine, with its own error as the reason."""
    try:
        import pytest
    except ImportError:  # outside pytest the data set's own error is the clearest report
        raise exc from None
    pytest.skip(f"{owner}: its data is not available here: {exc.message}")
