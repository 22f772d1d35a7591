"""Samples of a stored model written to a file: a PNG (image grid, or a scatter for 2-D points) or an NPZ array.

This is ``ganzoo sample`` as a Python function.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ganzoo.errors import ConfigError, GanzooError, is_storage_failure, storage_error
from ganzoo.plugin.loading import get_registry
from ganzoo.runs.files import atomic_write
from ganzoo.runs.plots import save_samples
from ganzoo.store.loading import LoadedGenerator, load_generator
from ganzoo.store.model_store import ModelStore

SUFFIXES = (".png", ".npz")
REAL_POINTS = 1000
#: A picture of more samples than this is not readable (a 32 x 32 grid); the raw array may hold up to this many bytes.
MAX_PICTURE_SAMPLES = 1024
MAX_ARRAY_BYTES = 2 << 30


def check_sample_count(n: object, generator: LoadedGenerator, picture: bool) -> int:
    """``n`` within what a picture can show, or what an array of this model's samples can hold in memory."""
    per_sample = 4 * (int(np.prod(generator.shape)) + generator.latent_dim)  # float32 samples and their noise
    high = MAX_PICTURE_SAMPLES if picture else max(1, MAX_ARRAY_BYTES // per_sample)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= high:
        what = "a picture shows" if picture else f"an array of this model's samples holds ({MAX_ARRAY_BYTES >> 30} GiB)"
        raise ConfigError(f"--n must be a whole number from 1 to {high} ({what} at most), got {n!r}",
                          hint="for more samples write several files with different --seed values"
                               + ("" if not picture else ", or use --out NAME.npz for the raw array"))
    return n


def _check_out(out: Path) -> None:
    if out.suffix.lower() not in SUFFIXES:
        raise GanzooError(f"cannot write samples to {out.name!r}", hint="use --out NAME.png (a picture) or "
                          "--out NAME.npz (the raw array)")
    if out.is_dir():
        raise GanzooError(f"--out {out} is a folder", hint=f"name a file inside it, e.g. --out {out / 'samples.png'}")


def real_points_of(generator: LoadedGenerator) -> torch.Tensor:
    """Real points to draw under generated ones, when the model's data set plugin is installed; else none."""
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
    _check_out(out)
    generator = load_generator(ref, device=device, store=store)
    check_sample_count(n, generator, picture=out.suffix.lower() == ".png")
    samples = generator.sample(n, seed=seed)
    try:
        return _write(samples, generator, out, seed)
    except Exception as exc:
        if is_storage_failure(exc) and not isinstance(exc, GanzooError):
            raise storage_error(exc, f"writing samples to {out}", hint="choose an --out you can write to") from exc
        raise


def _write(samples: torch.Tensor, generator: LoadedGenerator, out: Path, seed: int) -> Path:
    if out.suffix.lower() == ".npz":
        def write(tmp: str) -> None:
            with open(tmp, "wb") as handle:  # a handle, so numpy does not append its own suffix to the temp name
                np.savez(handle, samples=samples.numpy(), ref=np.array(generator.record.ref),
                         seed=np.array(seed), data_kind=np.array(generator.data_kind))

        return atomic_write(out, write)
    real = real_points_of(generator) if generator.data_kind == "points" else None
    title = f"{generator.record.ref}, seed {seed}"
    return save_samples(samples, real, generator.data_kind, out, title)
