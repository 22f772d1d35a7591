"""Real data as the trainer sees it: held in memory on the training device, drawn in deterministic batches.

A data-set plugin's factory returns a :class:`RealData`. Two kinds ship with the core:
- :class:`TensorData`: a finite set of samples (images or points) held as ONE tensor on the device and shuffled
  per epoch (without replacement, dropping the last partial batch, as ``DataLoader(shuffle=True, drop_last=True)``).
  Images may be stored as uint8 (4x less memory) and are scaled to [-1, 1] per batch.
- :class:`SampledData`: an analytic distribution (toy 2-D sets) that draws fresh samples for every batch.

Batches are drawn with a ``torch.Generator`` the trainer owns, so the same seed gives the same data order and a
checkpoint can store that order.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

IMAGES = "images"
POINTS = "points"


class RealData(ABC):
    """Real samples of one data set. ``shape`` is one sample's shape: (C, H, W) for images, (D,) for points."""

    name: str
    kind: str
    shape: tuple[int, ...]
    #: Toy sets: the mode centres [K, D] and the per-mode standard deviation, for mode-coverage metrics.
    modes: Tensor | None = None
    mode_std: float | None = None

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    @property
    def size(self) -> int | None:
        """How many samples there are: a whole number for a finite set, None for a distribution sampled afresh."""
        return None

    @abstractmethod
    def to(self, device: torch.device | str) -> RealData:
        """This data on ``device`` (the tensors move once, not per batch)."""

    @abstractmethod
    def batch(self, batch_size: int, generator: torch.Generator) -> Tensor:
        """The next training batch, float32 on the device; images in [-1, 1]."""

    @abstractmethod
    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """``n`` real samples for evaluation and plots (independent of the training order)."""

    def state_dict(self) -> dict[str, Any]:
        """Position in the data order, for resuming."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:  # noqa: B027 - stateless sources need nothing
        """Restore the position saved by :meth:`state_dict`."""

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "shape": list(self.shape)}


def to_unit_range(x: Tensor) -> Tensor:
    """uint8 [0, 255] -> float32 [-1, 1]; float data passes through as float32."""
    if x.dtype == torch.uint8:
        return x.float().div_(127.5).sub_(1.0)
    return x.float()


def images_to_uint8(images: Tensor) -> Tensor:
    """Images in [-1, 1] -> uint8 [0, 255] on the CPU (the inverse of :func:`to_unit_range`, rounded to nearest):
    what torch-fidelity feeds its extractors, and the 8 bits a PNG of the samples holds."""
    return images.detach().float().cpu().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)


class TensorData(RealData):
    """A finite data set held as one tensor ``samples`` of shape [N, *shape] (uint8 images or float)."""

    def __init__(self, name: str, samples: Tensor, kind: str = IMAGES, labels: Tensor | None = None) -> None:
        if samples.dim() < 2 or samples.shape[0] == 0:
            raise ValueError(
                f"data set {name!r}: expected a non-empty [N, ...] tensor, got shape {tuple(samples.shape)}"
            )
        self.name = name
        self.kind = kind
        self.samples = samples
        self.labels = labels
        self.shape = tuple(samples.shape[1:])
        self._order: Tensor | None = None
        self._position = 0
        self._epoch = 0

    def __len__(self) -> int:
        return self.samples.shape[0]

    @property
    def size(self) -> int:
        return len(self)

    @property
    def device(self) -> torch.device:
        return self.samples.device

    def to(self, device: torch.device | str) -> TensorData:
        moved = TensorData(self.name, self.samples.to(device), self.kind,
                           None if self.labels is None else self.labels.to(device))
        moved.modes, moved.mode_std = self.modes, self.mode_std
        return moved

    def batch(self, batch_size: int, generator: torch.Generator) -> Tensor:
        n = len(self)
        if batch_size > n:
            raise ValueError(f"batch size {batch_size} is larger than data set {self.name!r} ({n} samples)")
        if self._order is None or self._position + batch_size > n:
            self._order = torch.randperm(n, generator=generator, device=generator.device).to(self.device)
            self._position = 0
            self._epoch += 1
        index = self._order[self._position:self._position + batch_size]
        self._position += batch_size
        return to_unit_range(self.samples[index])

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        index = torch.randperm(len(self), generator=generator, device=generator.device)[:n].to(self.device)
        return to_unit_range(self.samples[index])

    def state_dict(self) -> dict[str, Any]:
        return {"order": None if self._order is None else self._order.cpu(), "position": self._position,
                "epoch": self._epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        order = state.get("order")
        self._order = None if order is None else order.to(self.device)
        self._position = int(state.get("position", 0))
        self._epoch = int(state.get("epoch", 0))


class SampledData(RealData):
    """An analytic distribution: ``sampler(n, generator, device)`` returns ``n`` fresh samples [n, *shape]."""

    def __init__(self, name: str, sampler: Callable[[int, torch.Generator, torch.device], Tensor],
                 shape: tuple[int, ...], kind: str = POINTS, device: torch.device | str = "cpu",
                 modes: Tensor | None = None, mode_std: float | None = None) -> None:
        self.name = name
        self.kind = kind
        self.shape = tuple(shape)
        self.sampler = sampler
        self._device = torch.device(device)
        self.modes = None if modes is None else modes.to(self._device)
        self.mode_std = mode_std

    @property
    def device(self) -> torch.device:
        return self._device

    def to(self, device: torch.device | str) -> SampledData:
        return SampledData(self.name, self.sampler, self.shape, self.kind, device, self.modes, self.mode_std)

    def batch(self, batch_size: int, generator: torch.Generator) -> Tensor:
        return self.sampler(batch_size, generator, self._device).float()

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        return self.batch(n, generator)
