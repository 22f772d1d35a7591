"""Samples of a stored model written to a file: a PNG (image grid, or a scatter for 2-D points) or an NPZ array.

This is ``ganzoo sample`` as a Python function.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ganzoo.errors import GanzooError
from ganzoo.files import atomic_write
from ganzoo.loading import LoadedGenerator, load_generator
from ganzoo.plots import save_samples
from ganzoo.store import ModelStore

SUFFIXES = (".png", ".npz")
REAL_POINTS = 1000


def real_points_of(generator: LoadedGenerator) -> torch.Tensor:
    """Real points to draw under generated ones, when the model's data set plugin is installed; else none."""
    from ganzoo.plugins import get_registry

    config = generator.record.config
    try:
        spec = get_registry().dataset(config["dataset"])
        data = spec.factory(**config["train_config"].get("dataset_options", {}))
        return data.sample(REAL_POINTS, torch.Generator().manual_seed(0)).cpu()
    except (GanzooError, TypeError, ValueError, RuntimeError, NotImplementedError, AttributeError):
        return torch.empty(0, *generator.shape)


def sample_to_file(ref: str, out: str | Path, *, n: int = 64, seed: int = 0, device: str = "cpu",
                   store: ModelStore | None = None) -> Path:
    """Write ``n`` samples of model ``ref`` drawn with ``seed`` to ``out`` (.png or .npz); returns ``out``.

    NPZ holds the raw array (``samples``, [n, *shape], images in [-1, 1]) with the model ref and seed.
    """
    out = Path(out)
    if out.suffix.lower() not in SUFFIXES:
        raise GanzooError(f"cannot write samples to {out.name!r}", hint="use --out NAME.png (a picture) or "
                          "--out NAME.npz (the raw array)")
    generator = load_generator(ref, device=device, store=store)
    samples = generator.sample(n, seed=seed).cpu()
    if out.suffix.lower() == ".npz":
        def write(tmp: str) -> None:
            with open(tmp, "wb") as handle:  # a handle, so numpy does not append its own suffix to the temp name
                np.savez(handle, samples=samples.numpy(), ref=np.array(generator.record.ref),
                         seed=np.array(seed), data_kind=np.array(generator.data_kind))

        return atomic_write(out, write)
    real = real_points_of(generator) if generator.data_kind == "points" else None
    title = f"{generator.record.ref}, seed {seed}"
    return save_samples(samples, real, generator.data_kind, out, title)
