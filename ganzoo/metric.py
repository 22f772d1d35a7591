"""What a metric plugin implements: score generated samples against a real data set."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor

from ganzoo.data import RealData


class Metric(ABC):
    """A sample-quality metric. ``compute`` returns named values, e.g. {"modes": 8.0, "hq_percent": 91.2}."""

    #: The headline value's key in the result of :meth:`compute`, and whether larger is better.
    headline: str
    higher_is_better: bool = True

    @abstractmethod
    def compute(self, fake: Tensor, real: RealData, generator: torch.Generator) -> dict[str, float]:
        """Score ``fake`` ([N, *real.shape], on any device) against ``real``; deterministic given ``generator``."""
