"""What a metric plugin implements: score generated samples against a real data set.

The one required method is :meth:`Metric.compute`. The rest are optional and have defaults, so a metric written
against the first version of this contract still works:

- :meth:`Metric.label` names a value for tables, the store and model cards (image metrics add their extractor:
  ``"FID[fashion-cnn]"``); :meth:`Metric.value_higher_is_better` gives each value's direction.
- Values whose key ends in ``_std`` are the spread of the value without the suffix (``"is"`` and ``"is_std"``).
- :meth:`Metric.group_key` / :meth:`Metric.compute_group` let metrics that share expensive work (FID, IS and KID
  share one pass of a feature extractor) be computed together.
- A :class:`Reference` attached to the real data as ``real.reference`` says exactly which real images a score is
  against (data set, split, options, count); metrics record it and may key caches by it.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor

from ganzoo.plugin.data import RealData

STD_SUFFIX = "_std"


@dataclass(frozen=True)
class Reference:
    """The real images a score compares against: recorded with every score, part of every feature-cache key."""

    dataset: str
    split: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    n: int | None = None

    @property
    def label(self) -> str:
        """``"fashion-mnist/test"``, or the data set's name when it has no splits."""
        return f"{self.dataset}/{self.split}" if self.split else self.dataset

    def key(self) -> str:
        """A file-name-safe cache key: data set, split, count and a hash of every other option (e.g. size)."""
        options = json.dumps({k: v for k, v in self.options.items() if k not in ("split", "root", "download")},
                             sort_keys=True, default=str)
        digest = hashlib.sha256(options.encode()).hexdigest()[:8]
        return f"{self.dataset}-{self.split or 'all'}-n{self.n if self.n is not None else 'all'}-{digest}"


def reference_of(real: RealData) -> Reference | None:
    """The :class:`Reference` the evaluation engine attached to ``real``, if any."""
    reference = getattr(real, "reference", None)
    return reference if isinstance(reference, Reference) else None


class Metric(ABC):
    """A sample-quality metric. ``compute`` returns named values, e.g. {"modes": 8.0, "hq_percent": 91.2}."""

    #: The headline value's key in the result of :meth:`compute`, and whether larger is better.
    headline: str
    higher_is_better: bool = True
    #: Directions of values other than the headline (key -> higher is better); unlisted keys follow the headline.
    directions: ClassVar[Mapping[str, bool]] = {}
    #: The feature extractor a score depends on (image metrics), recorded with every result; None if there is none.
    extractor: str | None = None
    #: Facts about the last :meth:`compute` to record with its results (e.g. the extractor weights' sha256).
    provenance: Mapping[str, Any] = {}

    @abstractmethod
    def compute(self, fake: Tensor, real: RealData, generator: torch.Generator) -> dict[str, float]:
        """Score ``fake`` ([N, *real.shape], on any device) against ``real``; deterministic given ``generator``."""

    def label(self, key: str) -> str:
        """How value ``key`` is shown and stored; image metrics name their extractor, e.g. "FID[fashion-cnn]"."""
        return key

    def value_higher_is_better(self, key: str) -> bool:
        return self.higher_is_better if key == self.headline else self.directions.get(key, self.higher_is_better)

    def group_key(self) -> Hashable | None:
        """Metrics with equal, non-None keys are computed by ONE :meth:`compute_group` call of the first one's
        class (so make the key specific, e.g. ``("torch-fidelity", extractor, ...)``)."""
        return None

    @classmethod
    def compute_group(cls, metrics: Sequence[Metric], fake: Tensor, real: RealData,
                      generator: torch.Generator) -> list[dict[str, float]]:
        """Values of each of ``metrics`` (same class and group key), in order; by default one at a time."""
        return [m.compute(fake, real, generator) for m in metrics]
