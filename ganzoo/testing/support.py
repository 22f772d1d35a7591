"""What every conformance check shares: naming the entry under test, failing with a clear message, seeded RNG."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any, NoReturn

import torch
from torch import Tensor, nn

from ganzoo.errors import GanzooError
from ganzoo.plugin.specs import Spec


def describe(spec: Spec) -> str:
    """``loss 'lsgan' from ganzoo-lsgan 0.1.0``: how every failure message starts."""
    provider = f" from {spec.provider.distribution} {spec.provider.version}" if spec.provider else ""
    return f"{spec.kind} {spec.name!r}{provider}"


def fail(owner: str, problem: str, fix: str) -> NoReturn:
    """Raise the AssertionError a conformance check reports: what is wrong, and what to change (every failure of
    the kit names its fix; an empty ``fix`` is allowed only where the problem's own message already says it)."""
    raise AssertionError(f"{owner}: {problem}" + (f"\n  fix: {fix}" if fix else ""))


def check(condition: bool, owner: str, problem: str, fix: str) -> None:
    """:func:`fail` with ``problem`` and ``fix`` unless ``condition`` holds."""
    if not condition:
        fail(owner, problem, fix)


def validate_spec(spec: Spec, expected: type[Spec]) -> str:
    """The entry is of the expected kind and passes the registry's own validation; returns its description."""
    if not isinstance(spec, expected):
        fail(repr(spec), f"expected a {expected.__name__}, got {type(spec).__name__}",
             "pass the entry to the check of its kind (check_entry picks it)")
    owner = describe(spec)
    try:
        spec.validate()
    except GanzooError as exc:
        fail(owner, f"the entry is malformed: {exc.message}", "fix the values passed to register()")
    return owner


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run with torch's global CPU RNG seeded, restoring the caller's RNG afterwards (checks must not move it)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def cpu_generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def is_finite(value: Any) -> bool:
    if isinstance(value, Tensor):
        return bool(torch.isfinite(value).all())
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def parameters_snapshot(module: nn.Module) -> dict[str, Tensor]:
    return {name: p.detach().clone() for name, p in module.named_parameters()}


def changed_parameters(module: nn.Module, before: dict[str, Tensor]) -> list[str]:
    return [name for name, p in module.named_parameters() if not torch.equal(p.detach(), before[name])]


def gradient_report(module: nn.Module) -> tuple[list[str], list[str], bool]:
    """(parameters with a gradient, parameters with a non-finite gradient, whether any gradient is non-zero)."""
    with_grad = [name for name, p in module.named_parameters() if p.grad is not None]
    bad = [name for name, p in module.named_parameters() if p.grad is not None and not is_finite(p.grad)]
    nonzero = any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in module.parameters())
    return with_grad, bad, nonzero
