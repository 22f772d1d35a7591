"""torch-fidelity for ganzoo: its FeatureExtractorBase adapter for the classifiers, InceptionV3's weights (never
downloaded during an evaluation), and FID / IS / KID / precision-recall with ganzoo's own cache of the real
features (torch-fidelity's cache, which unpickles, is never used)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import torch
from ganzoo_plugins.extractors.cache import fidelity_version, file_sha256, load_cached_features, save_cached_features
from ganzoo_plugins.extractors.classifier import (
    CLASSIFIER_SIZE,
    CLASSIFIERS,
    FEATURES,
    FIDELITY_INCEPTION,
    INCEPTION,
    INCEPTION_ENV,
    LOGITS,
    find_classifier_weights,
    images_to_classifier_input,
    load_classifier,
)
from torch import Tensor

from ganzoo import ConfigError, GanzooError

# --- torch-fidelity -----------------------------------------------------------------------------------------------


def _fidelity_base() -> type:
    from torch_fidelity.feature_extractor_base import FeatureExtractorBase

    return FeatureExtractorBase


@cache
def fidelity_classifier_class() -> type:
    """The torch-fidelity ``FeatureExtractorBase`` subclass for ganzoo's classifiers (built on first use, so that
    importing ganzoo does not import torch-fidelity)."""

    class FidelityClassifier(_fidelity_base()):  # type: ignore[misc]
        """A ganzoo classifier as a torch-fidelity feature extractor: uint8 [B, 1, H, W] -> ("128", "logits").

        ``images_seen`` counts images pushed through any instance: tests use it to prove a cached run did not
        recompute the real features.
        """

        images_seen = 0

        def __init__(self, name: str, features_list: list[str], **kwargs: Any) -> None:
            super().__init__(name, features_list)
            self.model, self.weights = load_classifier(name)

        @staticmethod
        def get_provided_features_list() -> tuple[str, ...]:
            return (FEATURES, LOGITS)

        @staticmethod
        def get_default_feature_layer_for_metric(metric: str) -> str:
            return {"isc": LOGITS, "fid": FEATURES, "kid": FEATURES, "prc": FEATURES}[metric]

        @staticmethod
        def can_be_compiled() -> bool:
            return False

        @staticmethod
        def get_dummy_input_for_compile() -> Tensor:
            return torch.zeros(1, 1, CLASSIFIER_SIZE, CLASSIFIER_SIZE, dtype=torch.uint8)

        def forward(self, x: Tensor) -> tuple[Tensor, ...]:
            if x.dim() != 4 or x.shape[1] != 1:
                raise ValueError(f"{self.name} takes grey images [B, 1, H, W], got {tuple(x.shape)}")
            type(self).images_seen += x.shape[0]
            with torch.no_grad():
                features, logits = self.model(images_to_classifier_input(x.cpu()))
            out = {FEATURES: features, LOGITS: logits}
            return tuple(out[f].to(x.device) for f in self.features_list)

    return FidelityClassifier


def register_with_fidelity() -> None:
    """Register every ganzoo classifier with torch-fidelity (idempotent)."""
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

    cls = fidelity_classifier_class()
    for name in CLASSIFIERS:
        if name not in FEATURE_EXTRACTORS_REGISTRY:
            register_feature_extractor(name, cls)


def inception_url() -> str:
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

    return URL_INCEPTION_V3


def find_inception_weights(path: str | Path | None = None) -> Path:
    """The InceptionV3 weights file: ``path``, else ``$GANZOO_INCEPTION_WEIGHTS``, else torch-fidelity's own download
    in torch hub's cache. Missing: a GanzooError naming the URL and the offline extractors (never a fallback)."""
    url = inception_url()
    given = path or os.environ.get(INCEPTION_ENV)
    if given:
        file = Path(given).expanduser()
        if not file.is_file():
            source = "--inception-weights" if path else INCEPTION_ENV
            raise GanzooError(f"InceptionV3 weights file {file} (from {source}) does not exist",
                              hint=f"download {url} and pass its path")
        return file
    cached = Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]
    if cached.is_file():
        return cached
    raise GanzooError(
        f"the InceptionV3 weights torch-fidelity needs for standard FID/IS/KID are not on this machine (looked for "
        f"{cached}) and ganzoo does not download them during an evaluation",
        hint=f"on a machine with internet download {url} and pass --inception-weights FILE (or set "
             f"{INCEPTION_ENV}=FILE); for 28x28 grey data `--extractor fashion-cnn` (or digits-cnn) works offline")


def feature_dim(extractor: str) -> int:
    """Size of the features FID uses: 2048 for Inception, the classifier's penultimate width (128) otherwise."""
    if extractor == INCEPTION:
        return 2048
    return int(find_classifier_weights(extractor).meta.get("feature_dim", 128))


# --- scores through torch-fidelity ------------------------------------------------------------------------------

#: ganzoo's metric names -> torch-fidelity's flags
FIDELITY_FLAGS = {"fid": "fid", "is": "isc", "kid": "kid", "prc": "prc"}


def image_dataset(images: Tensor | Callable[[], Tensor], channels: int) -> Any:
    """A torch Dataset of uint8 images [C, H, W] (what torch-fidelity feeds extractors), grey repeated to RGB for
    Inception. ``images`` may be a callable: it is called only if the set is actually read (cache miss)."""
    from torch.utils.data import Dataset

    class ImageSet(Dataset):
        def __init__(self) -> None:
            self._images = images if isinstance(images, Tensor) else None

        @property
        def images(self) -> Tensor:
            if self._images is None:
                self._images = images()  # type: ignore[operator]
            return self._images

        def __len__(self) -> int:
            return self.images.shape[0]

        def __getitem__(self, i: int) -> Tensor:
            x = self.images[i]
            return x.expand(channels, *x.shape[1:]) if x.shape[0] != channels else x

    return ImageSet()


@dataclass(frozen=True)
class FidelityScores:
    """torch-fidelity's values under ganzoo's keys (fid, is, is_std, kid, kid_std, precision, recall, f_score), the
    extractor and its weights' sha256, and whether the real features came from the cache (None: no cache key, or
    only IS, which never reads the real images)."""

    values: dict[str, float]
    extractor: str
    extractor_sha256: str
    cache_hit: bool | None
    torch_fidelity_version: str


#: metrics that compare with the real images (IS scores the generated images alone)
REAL_METRICS = ("fid", "kid", "prc")


def fidelity_scores(fake: Tensor, real: Tensor | Callable[[], Tensor], *, extractor: str,
                    metrics: Sequence[str] = ("fid", "is", "kid"), cache_key: str | None = None,
                    inception_weights: str | Path | None = None, batch_size: int = 250) -> FidelityScores:
    """FID / IS / KID / precision-recall of ``fake`` against ``real`` (uint8 [N, C, H, W]) by torch-fidelity.

    ``extractor`` is a ganzoo classifier (grey images) or ``"inception"`` (needs its weights: see
    :func:`find_inception_weights`). Features come from torch-fidelity's extractor and
    ``get_featuresdict_from_dataset``, the scores from its ``*_featuresdict_to_metric`` / FID statistics functions
    with the options ``calculate_metrics`` would use, so the values are torch-fidelity's. torch-fidelity's own
    (pickle) cache is never used. With ``cache_key`` the real set's features are cached by ganzoo as safetensors
    under ``GANZOO_HOME/cache/features``, named after the key, the extractor's weights' sha256 and the extractor;
    ``real`` may then be a callable that is only called on a cache miss. IS is computed on ``fake`` only; IS alone
    never reads ``real``.
    """
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_featuresdict_to_statistics, fid_statistics_to_metric
    from torch_fidelity.metric_isc import KEY_METRIC_ISC_MEAN, KEY_METRIC_ISC_STD, isc_featuresdict_to_metric
    from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_featuresdict_to_metric
    from torch_fidelity.metric_prc import (
        KEY_METRIC_F_SCORE,
        KEY_METRIC_PRECISION,
        KEY_METRIC_RECALL,
        prc_featuresdict_to_metric,
    )
    from torch_fidelity.utils import create_feature_extractor, get_featuresdict_from_dataset

    unknown = [m for m in metrics if m not in FIDELITY_FLAGS]
    if unknown or not metrics:
        raise ConfigError(f"unknown image metric(s) {unknown or metrics!r}", hint=f"use {', '.join(FIDELITY_FLAGS)}")
    if fake.dtype != torch.uint8 or fake.dim() != 4:
        raise ValueError(f"fake images must be uint8 [N, C, H, W], got {fake.dtype} {tuple(fake.shape)}")
    n_fake = fake.shape[0]
    extractor_options: dict[str, Any] = {}
    if extractor == INCEPTION:
        weights_path = find_inception_weights(inception_weights)
        name, channels, sha = FIDELITY_INCEPTION, 3, file_sha256(weights_path)
        extractor_options["feature_extractor_weights_path"] = str(weights_path)
    else:
        if fake.shape[1] != 1:
            raise GanzooError(f"extractor {extractor!r} takes grey (1-channel) images; these have {fake.shape[1]}",
                              hint="use --extractor inception for colour images")
        weights = find_classifier_weights(extractor)
        name, channels, sha = weights.name, 1, weights.sha256
        register_with_fidelity()
    layer = {m: fidelity_feature_layers(extractor, [m])[0] for m in metrics}
    compares = any(m in REAL_METRICS for m in metrics)
    real_layers = fidelity_feature_layers(extractor, REAL_METRICS) if compares else []
    real_set = image_dataset(real, channels)
    entry = f"{cache_key}-{sha[:16]}-{name}" if cache_key and compares else None
    real_features = load_cached_features(entry, real_layers, sha) if entry else None
    cache_hit = None if entry is None else real_features is not None
    if not compares:
        n_real = None
    elif real_features is not None:
        n_real = int(next(iter(real_features.values())).shape[0])
    else:
        n_real = len(real_set)
    smallest = min(n_fake, n_real) if n_real is not None else n_fake
    if smallest < 2:
        raise GanzooError(f"image metrics need at least 2 images on each side, got {n_fake} generated, "
                          f"{n_real} real", hint="use --n 10000 (the usual count)")
    # calculate_metrics' options as ganzoo always called it; cache=False: torch-fidelity's pickle cache stays off
    options: dict[str, Any] = {"cuda": False, "verbose": False, "cache": False, "save_cpu_ram": True,
                               "batch_size": batch_size, "isc_splits": min(10, n_fake),
                               "kid_subset_size": min(1000, smallest)}
    try:
        feature_extractor = create_feature_extractor(
            name, list(dict.fromkeys([*layer.values(), *real_layers])), **options, **extractor_options)

        def features_of(images: Any) -> dict[str, Tensor]:
            return get_featuresdict_from_dataset(images, feature_extractor, batch_size, False, True, False)

        fake_features = features_of(image_dataset(fake, channels))
        if compares and real_features is None:
            computed = features_of(real_set)
            real_features = {k: computed[k] for k in real_layers}
            if entry:
                save_cached_features(entry, real_features, {
                    "key": cache_key, "extractor": extractor, "feature_extractor": name, "extractor_sha256": sha,
                    "n": n_real})
        raw: dict[str, float] = {}
        if "is" in metrics:
            raw.update(isc_featuresdict_to_metric(fake_features, layer["is"], **options))
        if "fid" in metrics:
            raw.update(fid_statistics_to_metric(fid_featuresdict_to_statistics(fake_features, layer["fid"]),
                                                fid_featuresdict_to_statistics(real_features, layer["fid"]), False))
        if "kid" in metrics:
            raw.update(kid_featuresdict_to_metric(fake_features, real_features, layer["kid"], **options))
        if "prc" in metrics:
            raw.update(prc_featuresdict_to_metric(fake_features, real_features, layer["prc"], **options))
    except ValueError as exc:  # torch-fidelity's vassert
        raise GanzooError(f"torch-fidelity refused the evaluation: {exc}") from exc
    keys = {KEY_METRIC_FID: "fid", KEY_METRIC_ISC_MEAN: "is", KEY_METRIC_ISC_STD: "is_std",
            KEY_METRIC_KID_MEAN: "kid", KEY_METRIC_KID_STD: "kid_std", KEY_METRIC_PRECISION: "precision",
            KEY_METRIC_RECALL: "recall", KEY_METRIC_F_SCORE: "f_score"}
    values = {keys[k]: float(v) for k, v in raw.items() if k in keys}
    return FidelityScores(values, extractor, sha, cache_hit, fidelity_version())


def fidelity_feature_layers(extractor: str, metrics: Sequence[str]) -> list[str]:
    """The extractor layers torch-fidelity uses for ``metrics`` (ganzoo names: fid, is, kid, prc)."""
    if extractor == INCEPTION:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3 as cls
    else:
        cls = fidelity_classifier_class()
    return list(dict.fromkeys(cls.get_default_feature_layer_for_metric(FIDELITY_FLAGS[m]) for m in metrics))


