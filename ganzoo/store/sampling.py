"""Samples of a stored model as bytes or a file: a PNG (image grid, or a scatter for 2-D points), an NPZ or a
safetensors array.

:func:`sample_to_file` is ``ganzoo sample`` as a Python function; :func:`samples_bytes` makes the file's bytes, and
the sampling server (``ganzoo serve``) answers with the same bytes for the same model, seed and n.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ganzoo.errors import ConfigError, GanzooError, UnknownNameError, is_storage_failure, storage_error
from ganzoo.plugin.loading import get_registry
from ganzoo.runs.files import atomic_write_bytes
from ganzoo.runs.plots import samples_png
from ganzoo.store.loading import LoadedGenerator, load_generator
from ganzoo.store.model_store import ModelStore

#: The file formats (and ``--out`` suffixes): a picture, or the raw array as NumPy's NPZ or as safetensors.
FORMATS = ("png", "npz", "safetensors")
SUFFIXES = tuple(f".{name}" for name in FORMATS)
MEDIA_TYPES = {"png": "image/png", "npz": "application/x-npz", "safetensors": "application/octet-stream"}
#: The time stamp of every member of an NPZ written here, so that the same samples give the same bytes.
NPZ_TIME = (1980, 1, 1, 0, 0, 0)
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
        raise GanzooError(f"cannot write samples to {out.name!r}", hint="use --out NAME.png (a picture), "
                          "--out NAME.npz or --out NAME.safetensors (the raw array)")
    if out.is_dir():
        raise GanzooError(f"--out {out} is a folder", hint=f"name a file inside it, e.g. --out {out / 'samples.png'}")


def real_points_and_reason(generator: LoadedGenerator) -> tuple[torch.Tensor | None, str | None]:
    """(real points to draw under generated ones, None) when the model's data set plugin is installed; else (None,
    why not), naming the distribution to install when the model's config.json records it."""
    config = generator.record.config
    try:
        spec = get_registry().dataset(config["dataset"])
        data = spec.build(**config["train_config"].get("dataset_options", {}))
        return data.sample(REAL_POINTS, torch.Generator().manual_seed(0)).cpu(), None
    except UnknownNameError:
        info = config.get("plugins", {}).get("dataset") or {}
        dist = info.get("distribution")
        return None, f"data set {config['dataset']!r} is not installed" + (f" (pip install {dist})" if dist else "")
    except (GanzooError, TypeError, ValueError, RuntimeError, NotImplementedError, AttributeError) as exc:
        return None, f"data set {config['dataset']!r} gave no real points: {getattr(exc, 'message', exc)}"


def real_points_of(generator: LoadedGenerator) -> torch.Tensor:
    """Real points to draw under generated ones, when the model's data set plugin is installed; else none (empty)."""
    real, _ = real_points_and_reason(generator)
    return real if real is not None else torch.empty(0, *generator.shape)


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """``numpy.savez``'s format (uncompressed, ``np.load`` reads it) with fixed member time stamps: same arrays,
    same bytes (``savez`` stamps each member with the current time)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            with archive.open(zipfile.ZipInfo(f"{name}.npy", date_time=NPZ_TIME), "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
    return buffer.getvalue()


def samples_bytes(samples: torch.Tensor, generator: LoadedGenerator, seed: int, fmt: str,
                  real: torch.Tensor | None = None) -> bytes:
    """The bytes of ``samples`` (drawn from ``generator`` with ``seed``) as ``fmt`` (one of :data:`FORMATS`).

    png: an image grid, or for 2-D points a scatter over ``real`` (default: :func:`real_points_of`; without the
    model's data set, the generated points alone, and the title says why). npz: arrays
    ``samples`` ([n, *shape], float32, images in [-1, 1]), ``ref``, ``seed`` and ``data_kind``. safetensors: the
    tensor ``samples`` with metadata ``ganzoo`` (JSON: ref, seed, data_kind).
    """
    samples = samples.detach().float().cpu()
    ref = generator.record.ref
    if fmt == "npz":
        return npz_bytes({"samples": samples.numpy(), "ref": np.array(ref), "seed": np.array(seed),
                          "data_kind": np.array(generator.data_kind)})
    if fmt == "safetensors":
        from safetensors.torch import save

        about = json.dumps({"ref": ref, "seed": seed, "data_kind": generator.data_kind}, sort_keys=True)
        return save({"samples": samples.contiguous()}, metadata={"ganzoo": about})
    if fmt != "png":
        raise GanzooError(f"unknown sample format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")
    missing = None
    if generator.data_kind == "points" and real is None:
        real, missing = real_points_and_reason(generator)
    title = f"{ref}, seed {seed}" + (f"\nno real points: {missing}" if missing else "")
    return samples_png(samples, real, generator.data_kind, title)


def sample_to_file(ref: str, out: str | Path, *, n: int = 64, seed: int = 0, device: str = "cpu",
                   store: ModelStore | None = None, raw: bool = False,
                   echo: Callable[[str], None] | None = None) -> Path:
    """Write ``n`` samples of model ``ref`` drawn with ``seed`` to ``out`` (.png, .npz or .safetensors, as
    :func:`samples_bytes` makes them); returns ``out``. The model's averaged generator draws them when it has one,
    unless ``raw``. A scatter of 2-D points without the model's data set shows the generated points alone, and
    ``echo`` hears why.
    """
    out = Path(out)
    _check_out(out)
    fmt = out.suffix.lower().lstrip(".")
    generator = load_generator(ref, device=device, store=store, raw=raw)
    check_sample_count(n, generator, picture=fmt == "png")
    samples = generator.sample(n, seed=seed)
    if fmt == "png" and generator.data_kind == "points" and echo is not None:
        _, missing = real_points_and_reason(generator)
        if missing:
            echo(f"note: the scatter shows the generated points only: {missing}")
    try:
        return atomic_write_bytes(out, samples_bytes(samples, generator, seed, fmt))
    except Exception as exc:
        if is_storage_failure(exc) and not isinstance(exc, GanzooError):
            raise storage_error(exc, f"writing samples to {out}", hint="choose an --out you can write to") from exc
        raise
