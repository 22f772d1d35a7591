"""ganzoo's cache of real reference images' features: safetensors + a JSON sidecar with their sha256 in
``GANZOO_HOME/cache/features``, keyed by data set, split, options, count and the extractor weights' sha256, so that
scores of different weights are never mixed. A corrupt entry is recomputed with a warning."""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from torch import Tensor

from ganzoo import __version__, atomic_write, atomic_write_json, default_home, sha256_file


def fidelity_version() -> str:
    from torch_fidelity.version import __version__

    return str(__version__)


def feature_cache_dir() -> Path:
    """``GANZOO_HOME/cache/features``: ganzoo's cache of real reference images' features (safetensors + JSON)."""
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


