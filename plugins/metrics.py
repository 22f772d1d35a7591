"""Built-in metrics: mode coverage and exact W1 for toy 2-D data; FID, IS, KID and precision/recall for images.

| name | data | values (headline first) | better |
|---|---|---|---|
| modes | points with known modes | modes, hq_percent, reverse_kl | higher modes and HQ, lower KL |
| w1 | points | w1 | lower |
| fid | images | fid | lower |
| is | images | is, is_std | higher |
| kid | images | kid, kid_std | lower |
| prc | images | f_score, precision, recall | higher |

The image metrics are torch-fidelity's, computed in the feature space of a named extractor (option ``extractor``:
``fashion-cnn``, ``digits-cnn``, ``inception``, or ``auto``: the classifier trained on the data set for 28x28 grey
data it knows, else Inception). Their labels name it (``FID[fashion-cnn]``): scores of different extractors are
different numbers. FID, IS and KID asked for together share one pass of the extractor (``compute_group``), and the
real reference features are cached on disk (see :mod:`ganzoo_plugins.extractors`).

Mode coverage follows the protocol of VEEGAN / PacGAN / GDPP (docs/science.md, "Toy-data metrics"): a sample is
high quality (HQ) if it lies within ``sigmas`` (3) standard deviations of its nearest mode centre, and a mode
is captured if at least one HQ sample is nearest to it. Evaluate on 2,500 samples, as the papers do, to
compare with them.

W1 is exact, not a critic's estimate: for two equal-weight sample sets it is a linear program (optimal
transport), which POT's network simplex ``ot.emd2`` solves exactly in about a second for 2,500 x 2,500 points.
It is the distance the Wasserstein losses approximate, so it checks their training curves independently.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import replace
from typing import Any, ClassVar

import torch
from ganzoo_plugins.extractors import EXTRACTOR_NAMES, default_extractor, feature_dim, fidelity_scores
from torch import Tensor

from ganzoo import (
    IMAGES,
    POINTS,
    ConfigError,
    GanzooError,
    Metric,
    MetricSpec,
    RealData,
    exact_w1,
    hookimpl,
    images_to_uint8,
    mode_statistics,
    reference_of,
)

VEEGAN = "Srivastava et al. 2017, VEEGAN (arXiv:1705.07761); Lin et al. 2018, PacGAN (arXiv:1712.04086)"
FIDELITY = ("Obukhov et al. 2020, torch-fidelity; Heusel et al. 2017 (FID, arXiv:1706.08500), Salimans et al. 2016 "
            "(IS, arXiv:1606.03498), Binkowski et al. 2018 (KID, arXiv:1801.01401), Kynkaanniemi et al. 2019 "
            "(precision/recall, arXiv:1904.06991)")
POT = "Flamary et al. 2021, POT: Python Optimal Transport (JMLR 22(78)); exact EMD by network simplex"


class ModeCoverage(Metric):
    """Modes captured / HQ percent / reverse KL of generated points, for data sets that know their modes."""

    headline = "modes"
    higher_is_better = True
    directions: ClassVar[dict[str, bool]] = {"hq_percent": True, "reverse_kl": False}

    def __init__(self, sigmas: float = 3.0) -> None:
        if isinstance(sigmas, bool) or not isinstance(sigmas, (int, float)) or not sigmas > 0:
            raise ConfigError(f"metric 'modes': sigmas must be a number > 0, got {sigmas!r}",
                              hint="the standard protocol uses --set sigmas=3")
        self.sigmas = float(sigmas)

    def compute(self, fake: Tensor, real: RealData, generator: torch.Generator) -> dict[str, float]:
        if real.modes is None or real.mode_std is None:
            raise GanzooError(
                f"modes needs a data set with known modes, e.g. gaussians8, gaussians25 (data set "
                f"{getattr(real, 'name', '?')!r} declares none)",
                hint="use the w1 metric for any point data set; a data-set plugin declares its modes with "
                     "DatasetSpec(modes=..., mode_std=...)")
        return mode_statistics(fake, real.modes, real.mode_std, self.sigmas)


class ExactW1(Metric):
    """Exact W1 between the generated points and as many fresh real points (at most ``n`` of each)."""

    headline = "w1"
    higher_is_better = False

    def __init__(self, n: int = 2500) -> None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"metric 'w1': n must be a whole number >= 1, got {n!r}",
                              hint="e.g. --set n=2500")
        self.n = n

    def compute(self, fake: Tensor, real: RealData, generator: torch.Generator) -> dict[str, float]:
        n = min(len(fake), self.n)
        return {"w1": exact_w1(fake[:n], real.sample(n, generator))}


class FidelityMetric(Metric):
    """One of torch-fidelity's metrics in the feature space of a ganzoo extractor; see the module docstring.

    ``n_real``: how many real images to compare with (0: as many as generated, capped by the data set's size);
    ``inception_weights``: the InceptionV3 file for ``extractor="inception"`` (else $GANZOO_INCEPTION_WEIGHTS or
    torch-fidelity's cache). The real images are a fixed (seed 0) subset, so their features can be cached.
    """

    kind: ClassVar[str]
    value_keys: ClassVar[tuple[str, ...]]
    prefixes: ClassVar[dict[str, str]] = {"fid": "FID", "is": "IS", "kid": "KID", "precision": "Precision",
                                          "recall": "Recall", "f_score": "F-score"}

    def __init__(self, extractor: str = "auto", n_real: int = 0, inception_weights: str | None = None) -> None:
        if extractor != "auto" and extractor not in EXTRACTOR_NAMES:
            raise ConfigError(f"metric {self.kind!r}: unknown extractor {extractor!r}",
                              hint=f"use auto, {', '.join(EXTRACTOR_NAMES)}")
        if isinstance(n_real, bool) or not isinstance(n_real, int) or n_real < 0:
            raise ConfigError(f"metric {self.kind!r}: n_real must be a whole number >= 0, got {n_real!r}")
        self.extractor = extractor
        self.n_real = n_real
        self.inception_weights = inception_weights
        self.provenance: dict[str, Any] = {}

    def resolve(self, real: RealData) -> str:
        """The concrete extractor: ``auto`` becomes the data set's classifier (28x28 grey) or inception."""
        if self.extractor == "auto":
            reference = reference_of(real)
            self.extractor = default_extractor(reference.dataset if reference else real.name, real.shape)
        return self.extractor

    def label(self, key: str) -> str:
        return f"{self.prefixes.get(key, key)}[{self.extractor}]"

    def group_key(self) -> Hashable:
        return ("torch-fidelity", self.extractor, self.n_real, self.inception_weights)

    def compute(self, fake: Tensor, real: RealData, generator: torch.Generator) -> dict[str, float]:
        return self.compute_group([self], fake, real, generator)[0]

    @classmethod
    def compute_group(cls, metrics: Sequence[Metric], fake: Tensor, real: RealData,
                      generator: torch.Generator) -> list[dict[str, float]]:
        first: FidelityMetric = metrics[0]  # type: ignore[assignment]
        extractor = first.resolve(real)
        for m in metrics:
            m.extractor = extractor
        n_real = first.n_real or len(fake)
        if hasattr(real, "__len__"):
            n_real = min(n_real, len(real))  # type: ignore[arg-type]
        reference = reference_of(real)
        if any(m.kind == "fid" for m in metrics):  # type: ignore[attr-defined]
            dim = feature_dim(extractor)
            if min(len(fake), n_real) < dim:
                raise GanzooError(
                    f"FID[{extractor}] needs at least {dim} generated and {dim} real images (its features have {dim}"
                    f" dimensions; fewer give a rank-deficient covariance), got {len(fake)} and {n_real}",
                    hint="use --n 10000, the usual count (during training: --set eval_n=10000)"
                         + ("; for small data sets use a classifier extractor" if extractor == "inception" else ""))

        def real_images() -> Tensor:
            return images_to_uint8(real.sample(n_real, torch.Generator(real.device).manual_seed(0)))

        scores = fidelity_scores(images_to_uint8(fake), real_images, extractor=extractor,
                                 metrics=[m.kind for m in metrics],  # type: ignore[attr-defined]
                                 cache_key=replace(reference, n=n_real).key() if reference else None,
                                 inception_weights=first.inception_weights)
        provenance = {"extractor_sha256": scores.extractor_sha256, "torch_fidelity_version":
                      scores.torch_fidelity_version, "feature_cache_hit": scores.cache_hit, "n_reference": n_real}
        out = []
        for m in metrics:
            m.provenance = provenance
            out.append({k: scores.values[k] for k in m.value_keys})  # type: ignore[attr-defined]
        return out


class FID(FidelityMetric):
    kind = "fid"
    headline = "fid"
    higher_is_better = False
    value_keys = ("fid",)


class InceptionScore(FidelityMetric):
    kind = "is"
    headline = "is"
    higher_is_better = True
    value_keys = ("is", "is_std")


class KID(FidelityMetric):
    kind = "kid"
    headline = "kid"
    higher_is_better = False
    value_keys = ("kid", "kid_std")


class PrecisionRecall(FidelityMetric):
    kind = "prc"
    headline = "f_score"
    higher_is_better = True
    value_keys = ("f_score", "precision", "recall")


IMAGE_METRIC_OPTIONS = {"extractor": "auto", "n_real": 0, "inception_weights": None}


def modes(sigmas: float = 3.0) -> ModeCoverage:
    return ModeCoverage(sigmas)


def w1(n: int = 2500) -> ExactW1:
    return ExactW1(n)


@hookimpl
def register_metrics(register) -> None:  # noqa: ANN001 - the hook's callback
    register(MetricSpec(
        name="modes", factory=modes, options={"sigmas": 3.0}, data_kinds=(POINTS,), paper=VEEGAN,
        description="Modes captured, % high-quality samples (within sigmas std of a mode) and reverse KL of "
                    "the mode histogram; needs a data set with known modes."))
    register(MetricSpec(
        name="w1", aliases=("wasserstein",), factory=w1, options={"n": 2500}, data_kinds=(POINTS,), paper=POT,
        description="Exact Wasserstein-1 distance (optimal transport LP) between min(N, n) generated and as "
                    "many real points; lower is better."))
    for cls, aliases, what in (
            (FID, (), "Frechet distance between Gaussian fits of generated and real features; lower is better."),
            (InceptionScore, ("isc", "inception-score"), "Inception score exp E KL(p(y|x) || p(y)) of the extractor's "
             "class predictions on generated images; higher is better (at most the number of classes)."),
            (KID, (), "Kernel (cubic polynomial) MMD^2 between generated and real features, unbiased; lower is "
             "better."),
            (PrecisionRecall, ("precision-recall",), "Improved precision (generated inside the real manifold) and "
             "recall (real inside the generated one), k = 3 neighbours; higher is better.")):
        register(MetricSpec(
            name=cls.kind, aliases=aliases, factory=cls, options=dict(IMAGE_METRIC_OPTIONS), data_kinds=(IMAGES,),
            paper=FIDELITY, description=f"{what} By torch-fidelity; extractor: auto (the data set's classifier "
                                        "for 28x28 grey data, else inception), fashion-cnn, digits-cnn or inception."))
