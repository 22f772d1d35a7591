"""ganzoo's small classifier CNNs (``fashion-cnn``, ``digits-cnn``) as feature extractors: what they are trained on,
their network, where their weights are (shipped in ``ganzoo_plugins/weights``, or ``$GANZOO_EXTRACTOR_DIR``) and
loading them. Both expose the features "128" (penultimate layer, for FID/KID/PRC) and "logits" (10 classes, IS)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import torch.nn.functional as F
from ganzoo_plugins.extractors.cache import file_sha256
from torch import Tensor, nn

from ganzoo import GanzooError, UnknownNameError, to_unit_range

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


def clear_classifier_cache() -> None:
    """Forget the classifiers loaded so far (after new weights were written)."""
    _load_classifier_cached.cache_clear()


def load_classifier(name: str) -> tuple[ClassifierCNN, ClassifierWeights]:
    """The classifier ``name`` in eval mode (loaded once per process per weights file) and its weights record."""
    weights = find_classifier_weights(name)
    model = _load_classifier_cached(str(weights.path), weights.sha256, classifier_info(name).classes)
    return model, weights


