"""How a run's networks do their arithmetic: precision (``--precision fp32|bf16|fp16``), the channels-last memory
format (``--channels-last``) and ``torch.compile`` (``--compile``).

The float32 boundary: only the networks' forward passes (and so their backward passes) run under
``torch.autocast``; every network output is cast back to float32 before the loss sees it. So a loss plugin gets
float32 scores and fakes, as in an fp32 run, and needs no change: its reductions (the means, softplus, the
W estimate), the gradient penalty's interpolates, per-sample gradient norms and square, and everything logged
are float32; the penalty's input gradient arrives at the float32 interpolates in float32 (its arithmetic inside the
critic is low precision, which is what bf16 buys). Weights and optimizer states stay float32 (autocast casts per
op), so weight clipping clamps float32 weights. docs/performance.md gives the measurements behind this choice.

fp16 adds gradient scaling (one ``GradScaler`` per optimizer, kept in the checkpoint); it is offered on CUDA only
(``FP16_DEVICES``), as a CPU has no fast fp16 kernels. ``torch.compile`` cannot differentiate a compiled critic's
gradient again (the double backward of a gradient penalty), so compiling such a critic is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ganzoo.errors import ConfigError
from ganzoo.plugin.loss import ComposedLoss, Constraint, GANLoss
from ganzoo.runs.config import PRECISIONS, TrainConfig

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
#: Device types where ``--precision fp16`` is offered (autocast + gradient scaling).
FP16_DEVICES = ("cuda",)
#: CPU flags of the instructions that make bf16 fast (Intel AMX, AVX-512 BF16 on Intel and AMD).
FAST_BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
ROLES = ("generator", "critic")


def differentiates_critic_gradient(loss: GANLoss) -> bool:
    """Whether ``loss`` backpropagates through the critic's input gradient (a gradient penalty's double backward).

    A :class:`ComposedLoss` does exactly when its constraint has a penalty; any other loss might, so it is assumed
    to (``torch.compile`` of its critic is refused unless it says otherwise with a ``double_backward`` attribute).
    """
    if isinstance(loss, ComposedLoss):
        return type(loss.constraint).penalty is not Constraint.penalty
    return bool(getattr(loss, "double_backward", True))


def compiled_roles(config: TrainConfig, loss: GANLoss) -> tuple[str, ...]:
    """The networks ``--compile`` compiles, after refusing a critic whose loss needs the double backward."""
    roles = {"none": (), "generator": ("generator",), "critic": ("critic",), "both": ROLES}[config.compile]
    if "critic" in roles and differentiates_critic_gradient(loss):
        raise ConfigError(
            f"--compile {config.compile}: loss {config.loss!r} differentiates the critic's input gradient (a gradient "
            "penalty's double backward), which torch.compile cannot do on this torch "
            f"({torch.__version__}): the compiled backward refuses create_graph=True",
            hint="use --compile generator (the generator never needs it); critics of losses without a gradient "
                 "penalty (wgan, non-saturating, minimax) can be compiled")
    return roles


def fast_bf16(device: torch.device) -> tuple[bool | None, str]:
    """(whether this device has fast bf16 arithmetic, why); None when it cannot be told."""
    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        fast = major >= 8
        return fast, (f"CUDA compute capability {major}.{minor}"
                      + (" has bf16 tensor cores" if fast else " has no bf16 tensor cores (8.0+ has)"))
    if device.type != "cpu":
        return None, f"{device.type}: not known"
    flags = cpu_flags()
    if flags is None:
        return None, "the CPU's instruction set could not be read (/proc/cpuinfo)"
    have = [f for f in FAST_BF16_CPU_FLAGS if f in flags]
    if have:
        return True, f"CPU with {' and '.join(have)}"
    return False, (f"CPU without AMX or AVX-512 BF16 (torch's CPU capability: "
                   f"{torch.backends.cpu.get_cpu_capability()})")


def cpu_flags(path: Path = Path("/proc/cpuinfo")) -> set[str] | None:
    """The CPU's feature flags (Linux), or None when they cannot be read."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return None


class Precision:
    """A run's arithmetic: autocast dtype, gradient scalers, memory format and compiled networks.

    Built by :func:`make_precision`; the trainer runs each network through :meth:`wrap` and every update through
    :meth:`backward` and :meth:`step`, and keeps :meth:`state_dict` in its checkpoints.
    """

    def __init__(self, precision: str = "fp32", device: torch.device | None = None, *, channels_last: bool = False,
                 compiled: tuple[str, ...] = ()) -> None:
        self.name = precision
        self.device = device or torch.device("cpu")
        self.dtype = DTYPES.get(precision)
        self.channels_last = channels_last
        self.compiled = compiled
        self._wrapped: dict[int, nn.Module] = {}
        self.scalers = ({role: torch.amp.GradScaler(self.device.type) for role in ROLES} if precision == "fp16"
                        else {})

    def wrap(self, net: nn.Module, role: str) -> nn.Module:
        """``net`` as the trainer calls it: itself for plain fp32, else a module that runs it in this arithmetic
        (compiled if asked for, under autocast, in channels-last) and returns float32. Parameters are shared."""
        if id(net) in self._wrapped:  # the same network wrapped twice (e.g. not DDP-wrapped): one compilation
            return self._wrapped[id(net)]
        compile_it = role in self.compiled
        if self.dtype is None and not self.channels_last and not compile_it:
            return net
        self._wrapped[id(net)] = _RunAs(net, compile_it, self.dtype, self.device.type, self.channels_last)
        return self._wrapped[id(net)]

    def prepare(self, net: nn.Module) -> nn.Module:
        """``net`` in this arithmetic's memory format (in place; before DDP and the optimizers see it)."""
        return net.to(memory_format=torch.channels_last) if self.channels_last else net

    def backward(self, loss: Tensor, optimizer: torch.optim.Optimizer, role: str) -> None:
        """``loss.backward()``; under fp16 with the loss scaled and the gradients of ``optimizer``'s parameters
        unscaled again afterwards, so that what is logged or clipped between backward and step is the true gradient."""
        scaler = self.scalers.get(role)
        if scaler is None:
            loss.backward()
            return
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)

    def step(self, optimizer: torch.optim.Optimizer, role: str) -> None:
        """``optimizer.step()``; under fp16 skipped when the gradients are not finite, and the scale updated (as
        ``GradScaler`` does)."""
        scaler = self.scalers.get(role)
        if scaler is None:
            optimizer.step()
            return
        scaler.step(optimizer)
        scaler.update()

    def state_dict(self) -> dict[str, Any]:
        return {role: scaler.state_dict() for role, scaler in self.scalers.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for role, scaler in self.scalers.items():
            scaler.load_state_dict(state[role])

    def describe(self) -> str:
        parts = [self.name]
        if self.channels_last:
            parts.append("channels-last")
        if self.compiled:
            parts.append(f"compiled {' and '.join(self.compiled)}")
        return ", ".join(parts)


class _RunAs(nn.Module):
    """Runs a network under autocast (and channels-last, and compiled) and returns its output in float32.

    Compilation happens at the first call (torch.compile is lazy anyway; importing it is not)."""

    def __init__(self, net: nn.Module, compile_it: bool, dtype: torch.dtype | None, device_type: str,
                 channels_last: bool) -> None:
        super().__init__()
        self.net = net  # its parameters are this module's: after_critic_step (weight clipping) may get either
        self.compile_it = compile_it
        self._call: list[Any] = []  # the compiled copy, in a list so that it is not registered as a submodule
        self.dtype, self.device_type, self.channels_last = dtype, device_type, channels_last

    def _forward(self) -> Any:
        if not self.compile_it:
            return self.net
        if not self._call:
            self._call.append(torch.compile(self.net))
        return self._call[0]

    def forward(self, x: Tensor) -> Tensor:
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        if self.dtype is None:
            return self._forward()(x)
        with torch.autocast(self.device_type, dtype=self.dtype):
            out = self._forward()(x)
        return out.float()


def check_precision(precision: str, device: torch.device) -> None:
    """``precision`` can run on ``device``: fp16 only where it is offered, autocast where torch has it."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}",
                          hint="e.g. --precision bf16")
    if precision == "fp16" and device.type not in FP16_DEVICES:
        raise ConfigError(
            f"--precision fp16 needs a CUDA GPU; this run is on {device.type}",
            hint="use --precision bf16 (autocast on CPU and CUDA) or fp32; fp16 with gradient scaling pays only on "
                 "a GPU")
    if precision in DTYPES and not torch.amp.is_autocast_available(device.type):
        raise ConfigError(f"--precision {precision}: torch has no autocast for {device.type}",
                          hint="use --precision fp32 on this device")


@contextmanager
def autocast(precision: str, device: torch.device) -> Iterator[None]:
    """Autocast in ``precision`` on ``device`` (nothing for fp32): e.g. sampling a stored generator in bf16."""
    dtype = DTYPES.get(precision)
    if dtype is None:
        yield
        return
    with torch.autocast(device.type, dtype=dtype):
        yield


def make_precision(config: TrainConfig, device: torch.device, loss: GANLoss) -> Precision:
    """The arithmetic ``config`` asks for on ``device``: fp16 only where it is offered, a compiled critic only
    for a loss without the double backward; a bf16 run on a device without fast bf16 gets a note (it still runs)."""
    check_precision(config.precision, device)
    if config.precision == "bf16":
        fast, why = fast_bf16(device)
        if fast is False:
            note = (f"precision bf16 on a device without fast bf16 arithmetic ({why}): the run works but is likely "
                    "slower than fp32 here")
            if note not in config.notes:
                config.notes.append(note)
    return Precision(config.precision, device, channels_last=config.channels_last,
                     compiled=compiled_roles(config, loss))
