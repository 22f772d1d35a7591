"""Feature extractors for image metrics: ganzoo's small classifier CNNs and torch-fidelity's InceptionV3.

FID, IS, KID and precision/recall compare images in some network's feature space. The standard network is
torch-fidelity's InceptionV3, whose weights are downloaded on first use; offline machines must be handed the file.
For 28x28 grey data a classifier trained on the data set itself is the usual offline stand-in ("classifier FID",
docs/science.md): ganzoo ships two, trained by ``ganzoo extractor train``:

| name | trained on | held out |
|---|---|---|
| fashion-cnn | Fashion-MNIST's train split (60,000) | its test split (10,000) |
| digits-cnn | 80 % of scikit-learn's digits, 8x8 upsampled to 28x28 by the digits data set | a seeded 20 % |

Both expose the features "128" (penultimate layer, for FID/KID/PRC) and "logits" (10 classes, for IS).

The weights ship as ``ganzoo_plugins/weights/NAME.safetensors`` with ``NAME.json`` (accuracy, sha256, epochs,
command). ``$GANZOO_EXTRACTOR_DIR`` points at a folder of retrained weights to use instead. Every score records the
extractor's name (``FID[fashion-cnn]``), and cached reference features are keyed by the weights' sha256, so scores
of different weights are never mixed. The cache is ganzoo's own (safetensors + a JSON sidecar with their sha256 in
``GANZOO_HOME/cache/features``): torch-fidelity's cache, which unpickles, is never used.

Both kinds are registered into torch-fidelity (``register_feature_extractor``) and take what torch-fidelity feeds any
extractor: uint8 image batches [B, C, H, W].
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganzoo.data import to_unit_range
from ganzoo.errors import ConfigError, GanzooError, UnknownNameError
from ganzoo.files import sha256_file

INCEPTION = "inception"
#: torch-fidelity's name for its InceptionV3 (the TF-compatible port used for published FIDs).
FIDELITY_INCEPTION = "inception-v3-compat"
INCEPTION_ENV = "GANZOO_INCEPTION_WEIGHTS"
EXTRACTOR_DIR_ENV = "GANZOO_EXTRACTOR_DIR"
FEATURES = "128"
LOGITS = "logits"
CLASSIFIER_SIZE = 28


@dataclass(frozen=True)
class ClassifierInfo:
    """A built-in classifier extractor: the data set it is trained on and how its held-out split is made."""

    name: str
    dataset: str
    classes: int
    default_epochs: int
    description: str
    #: data sets without a test split (digits) hold out this fraction of a seeded permutation
    holdout: float | None = None


CLASSIFIERS: dict[str, ClassifierInfo] = {
    "fashion-cnn": ClassifierInfo("fashion-cnn", "fashion-mnist", 10, 8,
                                  "small CNN trained on Fashion-MNIST's train split (offline classifier FID)"),
    "digits-cnn": ClassifierInfo("digits-cnn", "digits", 10, 40,
                                 "small CNN trained on 80 % of scikit-learn's digits at 28x28", holdout=0.2),
}
EXTRACTOR_NAMES = (*CLASSIFIERS, INCEPTION)


class ClassifierCNN(nn.Module):
    """Three conv blocks (32, 64, 128 channels; BN, ReLU, 2x2 max pool) -> 128-d features -> class logits.

    Takes float images in [-1, 1], [B, 1, 28, 28]. The 128-d features are the penultimate layer BEFORE its ReLU:
    close to Gaussian and without dead (constant-zero) coordinates, so the feature covariance FID needs is full rank.
    About 240,000 parameters (under 1 MB as float32 safetensors).
    """

    def __init__(self, classes: int = 10, width: int = 32, features: int = 128) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 1
        for out in (width, 2 * width, 4 * width):
            layers += [nn.Conv2d(channels, out, 3, padding=1), nn.BatchNorm2d(out), nn.ReLU(inplace=True),
                       nn.MaxPool2d(2)]
            channels = out
        self.body = nn.Sequential(*layers)  # 28 -> 14 -> 7 -> 3
        self.embed = nn.Linear(channels * 3 * 3, features)
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(features, classes)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(features [B, 128], logits [B, classes])."""
        features = self.embed(self.body(x).flatten(1))
        return features, self.head(self.dropout(F.relu(features)))


def images_to_classifier_input(images: Tensor) -> Tensor:
    """uint8 [B, 1, H, W] (or float in [-1, 1]) -> float [B, 1, 28, 28] in [-1, 1] (bilinear resize if needed)."""
    x = to_unit_range(images)
    if x.shape[-2:] != (CLASSIFIER_SIZE, CLASSIFIER_SIZE):
        shrinking = max(x.shape[-2:]) > CLASSIFIER_SIZE
        x = F.interpolate(x, size=(CLASSIFIER_SIZE, CLASSIFIER_SIZE), mode="bilinear", align_corners=False,
                          antialias=shrinking)
    return x


def default_extractor(dataset: str, shape: tuple[int, ...] | list[int]) -> str:
    """The extractor a data set's images are scored with by default: its own classifier for 28x28 grey images of
    a data set ganzoo has one for (fashion-mnist -> fashion-cnn, digits -> digits-cnn), else inception."""
    if tuple(shape) == (1, CLASSIFIER_SIZE, CLASSIFIER_SIZE):
        for info in CLASSIFIERS.values():
            if info.dataset == dataset:
                return info.name
    return INCEPTION


# --- weights: where they are, what they are -------------------------------------------------------------------


def shipped_weights_dir() -> Path:
    """``ganzoo_plugins/weights`` inside the installed package (editable installs: ``plugins/weights``)."""
    return Path(str(resources.files("ganzoo_plugins") / "weights"))


def weights_dir() -> Path:
    """Where classifier weights are read from: ``$GANZOO_EXTRACTOR_DIR`` if set, else the shipped folder."""
    chosen = os.environ.get(EXTRACTOR_DIR_ENV)
    return Path(chosen).expanduser() if chosen else shipped_weights_dir()


def classifier_info(name: str) -> ClassifierInfo:
    if name not in CLASSIFIERS:
        from difflib import get_close_matches

        close = get_close_matches(name, EXTRACTOR_NAMES, n=3)
        raise UnknownNameError(
            f"unknown extractor {name!r}" + (f"; did you mean {', '.join(close)}?" if close else ""),
            hint=f"extractors: {', '.join(EXTRACTOR_NAMES)} (`ganzoo extractor list`)")
    return CLASSIFIERS[name]


@dataclass(frozen=True)
class ClassifierWeights:
    """A classifier's weights file, its sha256 and its sidecar metadata (accuracy, epochs, command)."""

    name: str
    path: Path
    sha256: str
    meta: dict[str, Any]


def find_classifier_weights(name: str, directory: str | Path | None = None) -> ClassifierWeights:
    """The weights of classifier ``name`` in ``directory`` (default :func:`weights_dir`), checked against the
    sha256 recorded in the sidecar JSON: a modified or truncated file is an error, never silently used."""
    info = classifier_info(name)
    folder = Path(directory) if directory is not None else weights_dir()
    path, sidecar = folder / f"{info.name}.safetensors", folder / f"{info.name}.json"
    if not path.is_file() or not sidecar.is_file():
        raise GanzooError(f"no weights for extractor {name!r} in {folder} (expected {path.name} and {sidecar.name})",
                          hint=f"train them with `ganzoo extractor train {name} --out {folder}`"
                               + (f", or unset {EXTRACTOR_DIR_ENV}" if os.environ.get(EXTRACTOR_DIR_ENV) else ""))
    try:
        meta = json.loads(sidecar.read_text())
    except ValueError as exc:
        raise GanzooError(f"{sidecar} is not valid JSON: {exc}",
                          hint=f"restore it or retrain with `ganzoo extractor train {name} --out {folder}`") from exc
    digest = file_sha256(path)  # hashed once per process per file version
    if meta.get("sha256") != digest:
        raise GanzooError(f"{path} does not match the sha256 in {sidecar.name} ({digest[:12]} != "
                          f"{str(meta.get('sha256'))[:12]})",
                          hint=f"restore the file or retrain it with `ganzoo extractor train {name} --out {folder}`")
    return ClassifierWeights(info.name, path, digest, meta)


@cache
def _load_classifier_cached(path: str, sha256: str, classes: int) -> ClassifierCNN:
    from safetensors.torch import load_file

    model = ClassifierCNN(classes)
    model.load_state_dict(load_file(path))
    return model.eval().requires_grad_(False)


def load_classifier(name: str) -> tuple[ClassifierCNN, ClassifierWeights]:
    """The classifier ``name`` in eval mode (loaded once per process per weights file) and its weights record."""
    weights = find_classifier_weights(name)
    model = _load_classifier_cached(str(weights.path), weights.sha256, classifier_info(name).classes)
    return model, weights


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


def fidelity_version() -> str:
    from torch_fidelity.version import __version__

    return str(__version__)


def feature_cache_dir() -> Path:
    """``GANZOO_HOME/cache/features``: ganzoo's cache of real reference images' features (safetensors + JSON)."""
    from ganzoo.store import default_home

    return default_home() / "cache" / "features"


class FeatureCacheWarning(UserWarning):
    """A cached real-feature file could not be used (unreadable, or not the file its sidecar describes): the
    features are recomputed and the file rewritten."""


@cache
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(path)


def file_sha256(path: Path) -> str:
    """sha256 of ``path``, hashed once per process per (path, size, mtime): the Inception file is 95 MB."""
    stat = path.stat()
    return _sha256_cached(str(path), stat.st_size, stat.st_mtime_ns)


def feature_cache_files(name: str) -> tuple[Path, Path]:
    """(``NAME.safetensors``, ``NAME.json``) in :func:`feature_cache_dir`."""
    root = feature_cache_dir()
    return root / f"{name}.safetensors", root / f"{name}.json"


def load_cached_features(name: str, layers: Sequence[str], extractor_sha256: str) -> dict[str, Tensor] | None:
    """The cached features ``layers`` of cache entry ``name``, or None (no entry, another extractor's weights, or
    layers missing). Never unpickles: the tensors are safetensors, checked against the sha256 in the JSON sidecar
    first. An unusable entry (unreadable, sha256 mismatch, wrong shapes) gives a :class:`FeatureCacheWarning` and
    None, so that the caller recomputes and rewrites it."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path, sidecar = feature_cache_files(name)
    if not path.is_file() and not sidecar.is_file():
        return None
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        if not isinstance(meta, dict):
            raise ValueError(f"{sidecar.name} is not a JSON object")
        digest = sha256_file(path)
        if meta.get("sha256") != digest:
            raise ValueError(f"its sha256 {digest[:12]} is not the {str(meta.get('sha256'))[:12]} recorded in "
                             f"{sidecar.name}")
        if meta.get("extractor_sha256") != extractor_sha256:
            return None  # another weights file whose sha256 shares the name's 16-digit prefix
        features = load_file(str(path))
        rows = {int(t.shape[0]) for t in features.values()}
        if any(t.dim() != 2 for t in features.values()) or rows != {int(meta.get("n", -1))}:
            raise ValueError(f"its tensors {', '.join(f'{k} {list(t.shape)}' for k, t in features.items())} are not "
                             f"{meta.get('n')} feature rows")
    except (OSError, ValueError, SafetensorError) as exc:
        warnings.warn(f"the cached real features {path} are unusable ({exc}); recomputing them", FeatureCacheWarning,
                      stacklevel=3)
        return None
    if not all(layer in features for layer in layers):
        return None
    return {layer: features[layer] for layer in layers}


def save_cached_features(name: str, features: dict[str, Tensor], meta: dict[str, Any]) -> Path | None:
    """Write cache entry ``name``: the tensors as safetensors, then a JSON sidecar with their sha256 and ``meta``
    (each file atomically; a crash between the two leaves a sha256 mismatch, i.e. a recompute). A cache that
    cannot be written is a warning, not a failed evaluation."""
    from safetensors.torch import save_file

    from ganzoo import __version__
    from ganzoo.files import atomic_write, atomic_write_json

    path, sidecar = feature_cache_files(name)
    tensors = {k: v.detach().cpu().contiguous() for k, v in features.items()}
    try:
        atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata={"name": name}))
        atomic_write_json(sidecar, {
            **meta, "format": "ganzoo-features-1", "sha256": sha256_file(path),
            "layers": {k: list(v.shape) for k, v in tensors.items()},
            "torch_fidelity_version": fidelity_version(), "ganzoo_version": __version__,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    except OSError as exc:
        warnings.warn(f"could not cache the real features in {path}: {exc}", FeatureCacheWarning, stacklevel=3)
        return None
    return path


def _image_set(images: Tensor | Callable[[], Tensor], channels: int) -> Any:
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
    real_set = _image_set(real, channels)
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

        fake_features = features_of(_image_set(fake, channels))
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


# --- training the classifiers -----------------------------------------------------------------------------------


@dataclass
class TrainedClassifier:
    name: str
    path: Path
    sidecar: Path
    test_accuracy: float
    meta: dict[str, Any]


def classifier_splits(name: str, registry: Any = None, *, test_only: bool = False) -> tuple[Any, Any]:
    """(train, test) ``TensorData`` of the data set classifier ``name`` is trained on, through the registry.

    Fashion-MNIST uses its own train/test splits; digits (no split) holds out a seeded 20 % permutation.
    ``test_only``: train is None where that saves loading it (Fashion-MNIST's 60,000 images).
    """
    from ganzoo.data import TensorData
    from ganzoo.plugins import get_registry

    info = classifier_info(name)
    spec = (registry or get_registry()).dataset(info.dataset)
    options = dict(spec.options)
    if "size" in options:
        options["size"] = CLASSIFIER_SIZE
    if info.holdout is None:
        train = None if test_only else spec.factory(**{**options, "split": "train"})
        return train, spec.factory(**{**options, "split": "test"})
    data = spec.factory(**options)
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))
    n_test = round(info.holdout * len(data))

    def pick(index: Tensor) -> TensorData:
        return TensorData(data.name, data.samples[index], data.kind, data.labels[index])

    return pick(order[n_test:]), pick(order[:n_test])


def accuracy(model: nn.Module, data: Any, batch_size: int = 1000) -> float:
    """Top-1 accuracy of ``model`` on a labelled ``TensorData`` (eval mode)."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            images = images_to_classifier_input(data.samples[start:start + batch_size])
            correct += int((model(images)[1].argmax(1) == data.labels[start:start + batch_size]).sum())
    return correct / len(data)


def train_classifier(name: str, out: str | Path, *, epochs: int | None = None, batch_size: int = 128,
                     lr: float = 2e-3, seed: int = 0, command: str = "",
                     echo: Callable[[str], None] = print) -> TrainedClassifier:
    """Train classifier ``name`` from scratch on CPU-sized budgets and write ``out/NAME.safetensors`` + ``.json``.

    AdamW with a one-cycle learning rate, no augmentation; reports train and held-out accuracy per epoch. The
    sidecar records test accuracy, sha256, epochs, seed and the command, so shipped weights can be reproduced.
    """
    from safetensors.torch import save_file

    from ganzoo import __version__
    from ganzoo.files import atomic_write, atomic_write_json

    info = classifier_info(name)
    epochs = info.default_epochs if epochs is None else epochs
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ConfigError(f"--epochs must be a whole number >= 1, got {epochs!r}")
    train, test = classifier_splits(name)
    if train.labels is None:
        raise GanzooError(f"data set {info.dataset!r} has no labels; a classifier cannot be trained on it")
    torch.manual_seed(seed)
    model = ClassifierCNN(info.classes)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps_per_epoch = len(train) // batch_size
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * steps_per_epoch)
    order_rng = torch.Generator().manual_seed(seed + 1)
    started = time.perf_counter()
    history = []
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(len(train), generator=order_rng)
        total = 0.0
        for i in range(steps_per_epoch):
            index = order[i * batch_size:(i + 1) * batch_size]
            _, logits = model(images_to_classifier_input(train.samples[index]))
            loss = F.cross_entropy(logits, train.labels[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item()
        test_acc = accuracy(model, test)
        history.append({"epoch": epoch, "loss": round(total / steps_per_epoch, 5), "test_accuracy": test_acc})
        echo(f"epoch {epoch}/{epochs}: loss {total / steps_per_epoch:.4f}, test accuracy {100 * test_acc:.2f} % "
             f"({time.perf_counter() - started:.0f} s)")
    model.eval()
    train_acc, test_acc = accuracy(model, train), accuracy(model, test)
    out = Path(out).expanduser()
    path = out / f"{info.name}.safetensors"
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    atomic_write(path, lambda tmp: save_file(state, tmp, metadata={"name": info.name, "dataset": info.dataset}))
    meta = {
        "name": info.name, "dataset": info.dataset, "classes": info.classes,
        "train_split": "train" if info.holdout is None else f"seeded {100 - 100 * info.holdout:.0f} % of all",
        "test_split": "test" if info.holdout is None else f"seeded {100 * info.holdout:.0f} % held out",
        "n_train": len(train), "n_test": len(test),
        "test_accuracy": round(test_acc, 5), "train_accuracy": round(train_acc, 5),
        "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed, "history": history,
        "parameters": sum(p.numel() for p in model.parameters()), "bytes": path.stat().st_size,
        "sha256": sha256_file(path), "features": FEATURES, "feature_dim": model.embed.out_features,
        "command": command or f"ganzoo extractor train {info.name} --epochs {epochs} --out {out}",
        "seconds": round(time.perf_counter() - started, 1), "torch_version": torch.__version__,
        "ganzoo_version": __version__, "trained_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    sidecar = atomic_write_json(out / f"{info.name}.json", meta)
    for written in (path, sidecar):
        written.chmod(0o644)  # files to ship or share (the atomic writer's temporary files are private)
    _load_classifier_cached.cache_clear()
    return TrainedClassifier(info.name, path, sidecar, test_acc, meta)
