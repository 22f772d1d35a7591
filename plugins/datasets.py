"""Built-in data sets: the standard toy 2-D mixtures and the usual small image sets.

| name | kind | what | offline here |
|---|---|---|---|
| gaussians8 | points | 8 Gaussians on a ring of ``radius`` (angles 2 pi k/8), std ``std`` | yes (analytic) |
| gaussians25 | points | 25 Gaussians on the grid {-4, -2, 0, 2, 4}^2, std ``std`` | yes (analytic) |
| swissroll | points | the WGAN-GP toy swiss roll (sklearn's x, z / 7.5) | yes (analytic) |
| digits | images | scikit-learn's 1,797 real 8x8 digits, upsampled to ``size`` | yes (in sklearn) |
| fashion-mnist | images | Xiao et al.'s 70,000 28x28 clothes images | ``dataset-fashion-mnist`` |
| mnist | images | LeCun et al.'s 70,000 28x28 digits, through torchvision | download once |
| cifar10 | images | Krizhevsky's 60,000 32x32 colour images, through torchvision | download once |
| folder | images | every image under ``path``, center-cropped and resized | the user's files |

Design choices:
- Every factory returns its data on the CPU; the trainer moves it to the device ONCE (see :mod:`ganzoo.plugin.data`).
- Image sets are held as ONE uint8 tensor [N, C, H, W] (4x less memory than float); ``TensorData`` scales
  each batch to [-1, 1]. Files are decoded in bulk (IDX with numpy, torchvision's ``.data`` arrays), never per
  item.
- Nothing is cached outside memory; the only writes are torchvision's own downloads into the data root.
- The toy sets carry ``recommended`` training settings per loss family (:data:`TOY_RECOMMENDED`): the WGAN-GP
  paper's lr 1e-4 is far too slow for a CPU-sized run on them (docs/science.md, "Toy-data metrics"); lr 1e-3 at
  batch 256 puts mass on every mode within ~1,500 steps. The other families keep their papers' lrs.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ganzoo import IMAGES, POINTS, ConfigError, DataError, DatasetSpec, SampledData, TensorData, hookimpl

#: Where torchvision downloads go (and where ``GANZOO_DATA`` points instead when set).
CACHE_ROOT = Path("~/.cache/ganzoo/datasets")
#: The Debian package ``dataset-fashion-mnist`` installs the four original IDX files here.
SYSTEM_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
DATA_ENV = "GANZOO_DATA"
SPLITS = ("train", "test")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
#: Above this many files the folder loader shows a progress bar.
PROGRESS_THRESHOLD = 1000
_RESIZE_CHUNK = 4096

METZ = "Metz et al. 2017, Unrolled Generative Adversarial Networks (arXiv:1611.02163)"
VEEGAN = "Srivastava et al. 2017, VEEGAN (arXiv:1705.07761)"
GULRAJANI = "Gulrajani et al. 2017, Improved Training of Wasserstein GANs (arXiv:1704.00028)"
DIGITS_PAPER = "Alpaydin & Kaynak 1998, UCI Optical Recognition of Handwritten Digits (via scikit-learn)"
XIAO = "Xiao, Rasul, Vollgraf 2017, Fashion-MNIST (arXiv:1708.07747)"
LECUN = "LeCun, Bottou, Bengio, Haffner 1998, Gradient-based learning applied to document recognition"
KRIZHEVSKY = "Krizhevsky 2009, Learning Multiple Layers of Features from Tiny Images"

#: What the toy sets recommend, by loss family (docs/toy-learning.md measures each against the loss's paper setting
#: on gaussians8: every family's recommendation learns the ring at least as well in the same 1,500 generator steps).
#: For every loss: 2-D noise for 2-D data and a 1,500-step budget. For the penalty family (wgan-gp, wgan-lp): lr 1e-3
#: decayed linearly to 0 (the WGAN-GP paper's own CIFAR-10 schedule) at batch 256 - with the paper's lr 1e-4, 3,000
#: steps cover 3 of 8 ring modes (docs/science.md). The GAN family and wgan keep their papers' optimisers and lrs
#: and train on batches of 256. They override the loss's paper defaults only where the user did not choose; the
#: run prints each value that differs from the paper's, and config.json records its source.
TOY_RECOMMENDED: dict[str, dict[str, Any]] = {
    "any": {"steps": 1500, "latent_dim": 2},
    "gan": {"lr": 1e-3, "lr_schedule": "linear", "batch_size": 256},
    "wgan": {"batch_size": 256},
    "penalty": {"lr": 1e-3, "lr_schedule": "linear", "batch_size": 256},
}


def toy_recommended(**every_loss: Any) -> dict[str, dict[str, Any]]:
    """A copy of :data:`TOY_RECOMMENDED` with ``every_loss`` added to its ``"any"`` settings."""
    recommended = {family: dict(settings) for family, settings in TOY_RECOMMENDED.items()}
    recommended["any"].update(every_loss)
    return recommended


# --- option validation --------------------------------------------------------------------------------------


def _int_option(dataset: str, key: str, value: Any, minimum: int) -> int:
    """A whole number >= ``minimum``; bools are rejected (``True`` is an int in Python, never a size)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"data set {dataset!r}: {key} must be a whole number >= {minimum}, got {value!r}",
                          hint=f"e.g. --set {key}={max(minimum, 28)}")
    return value


def _float_option(dataset: str, key: str, value: Any, positive: bool = True) -> float:
    """A finite number, > 0 (``positive``) or >= 0."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (value <= 0 if positive else value < 0):
        bound = "> 0" if positive else ">= 0"
        raise ConfigError(f"data set {dataset!r}: {key} must be a number {bound}, got {value!r}")
    return float(value)


def _split_option(dataset: str, split: Any) -> bool:
    """``"train"`` / ``"test"`` -> torchvision's ``train`` flag."""
    if split not in SPLITS:
        raise ConfigError(f"data set {dataset!r}: split must be one of {', '.join(SPLITS)}, got {split!r}",
                          hint="e.g. --set split=test")
    return split == "train"


def _bool_option(dataset: str, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"data set {dataset!r}: {key} must be true or false, got {value!r}")
    return value


# --- shared image helpers -----------------------------------------------------------------------------------


def resize_images(images: Tensor, size: int) -> Tensor:
    """Resize uint8 images [N, C, H, W] to [N, C, size, size] (bilinear, antialiased when shrinking).

    The one resizing routine for every tensor image set, so 28x28 MNIST at ``size=32`` and CIFAR-10 at
    ``size=28`` are resampled the same way. Works in chunks: a 60,000-image set never needs a full float copy.
    """
    if images.dim() != 4 or images.dtype != torch.uint8:
        raise ValueError(f"resize_images expects uint8 [N, C, H, W], got {images.dtype} "
                         f"{tuple(images.shape)}")
    if images.shape[-2:] == (size, size):
        return images
    shrinking = size < max(images.shape[-2:])
    out = torch.empty((images.shape[0], images.shape[1], size, size), dtype=torch.uint8)
    for start in range(0, images.shape[0], _RESIZE_CHUNK):
        chunk = images[start:start + _RESIZE_CHUNK].float()
        resized = F.interpolate(chunk, size=(size, size), mode="bilinear", align_corners=False,
                                antialias=shrinking)
        out[start:start + _RESIZE_CHUNK] = resized.round_().clamp_(0, 255).to(torch.uint8)
    return out


def _image_data(name: str, images: Tensor, labels: Tensor | None, size: int) -> TensorData:
    """uint8 [N, C, H, W] (+ labels) -> a contiguous CPU ``TensorData`` of ``size`` x ``size`` images."""
    images = resize_images(images.contiguous(), size)
    return TensorData(name, images.contiguous(), kind=IMAGES,
                      labels=None if labels is None else labels.to(torch.int64))


def _data_root(root: Any) -> Path:
    """The data root: option ``root``, else ``$GANZOO_DATA``, else ``~/.cache/ganzoo/datasets``."""
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise ConfigError(f"root must be a folder path, got {root!r}", hint="e.g. --set root=/data/sets")
    chosen = root if root not in (None, "") else os.environ.get(DATA_ENV) or CACHE_ROOT
    return Path(chosen).expanduser()


def load_torchvision(class_name: str, root: Path, train: bool, download: bool,
                     files_hint: str) -> tuple[Tensor, Tensor]:
    """Load a torchvision data set as (uint8 images [N, C, H, W], int64 labels [N]), or raise a DataError.

    Used by ``mnist``, ``cifar10`` and the ``fashion-mnist`` download fallback, so all three fail the same
    helpful way when offline. Reads the data set object's ``.data`` / ``.targets`` arrays: one tensor, no
    per-item decode.
    """
    import torchvision.datasets as tv_datasets

    cls = getattr(tv_datasets, class_name)
    try:
        dataset = cls(str(root), train=train, download=download)
    except Exception as exc:  # torchvision raises RuntimeError/URLError/OSError variously
        what = "could not download" if download else "did not find (download=False)"
        detail = " ".join(str(exc).split())
        raise DataError(
            f"torchvision {what} {class_name} under {root}: {detail}",
            hint=(f"run once with internet access (download=true, the default) to fetch it into {root}, or "
                  f"place the torchvision files there ({files_hint}); choose the folder with --set root=DIR "
                  f"or {DATA_ENV}=DIR")) from exc
    images = torch.as_tensor(np.asarray(dataset.data))
    labels = torch.as_tensor(np.asarray(dataset.targets), dtype=torch.int64)
    if images.dim() == 3:  # [N, H, W] grey
        images = images.unsqueeze(1)
    elif images.dim() == 4 and images.shape[-1] in (1, 3):  # [N, H, W, C] (CIFAR)
        images = images.permute(0, 3, 1, 2)
    return images.to(torch.uint8).contiguous(), labels


# --- toy 2-D sets -------------------------------------------------------------------------------------------


def _sample_mixture(n: int, generator: torch.Generator, device: torch.device, centres: Tensor,
                    std: float) -> Tensor:
    """``n`` draws from the equal-weight mixture of N(centre, std^2 I), drawn on the generator's device."""
    gen_device = generator.device
    index = torch.randint(centres.shape[0], (n,), generator=generator, device=gen_device)
    noise = torch.randn((n, centres.shape[1]), generator=generator, device=gen_device)
    return (centres.to(gen_device)[index] + std * noise).to(device)


def ring_centres(radius: float = 2.0, k: int = 8) -> Tensor:
    """``k`` centres (r cos(2 pi i/k), r sin(2 pi i/k)), i = 0..k-1.

    NOT ``linspace(0, 2 pi, k)``: it includes both 0 and 2 pi, so two centres coincide (k-1 distinct).
    """
    angles = 2 * math.pi * torch.arange(k, dtype=torch.float64) / k
    return (radius * torch.stack([angles.cos(), angles.sin()], dim=1)).float()


def grid_centres() -> Tensor:
    """The 25 centres {-4, -2, 0, 2, 4}^2."""
    axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    return torch.cartesian_prod(axis, axis)


def gaussians8(radius: float = 2.0, std: float = 0.02) -> SampledData:
    """8 Gaussians on a ring (the Unrolled-GAN / WGAN-GP mode-collapse benchmark)."""
    radius = _float_option("gaussians8", "radius", radius)
    std = _float_option("gaussians8", "std", std)
    centres = ring_centres(radius)
    return SampledData("gaussians8", partial(_sample_mixture, centres=centres, std=std), (2,), kind=POINTS,
                       modes=centres, mode_std=std)


def gaussians25(std: float = 0.05) -> SampledData:
    """25 Gaussians on a 5x5 grid (the VEEGAN / PacGAN mode-collapse benchmark)."""
    std = _float_option("gaussians25", "std", std)
    centres = grid_centres()
    return SampledData("gaussians25", partial(_sample_mixture, centres=centres, std=std), (2,), kind=POINTS,
                       modes=centres, mode_std=std)


SWISSROLL_SCALE = 7.5  # the WGAN-GP toy code divides sklearn's swiss roll by 7.5 to land in about [-2, 2]


def _sample_swissroll(n: int, generator: torch.Generator, device: torch.device, noise: float) -> Tensor:
    """sklearn.make_swiss_roll's (x, z) plane: t = 1.5 pi (1 + 2u), (t cos t, t sin t) + noise, then / 7.5."""
    gen_device = generator.device
    t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=generator, device=gen_device))
    points = torch.stack([t * t.cos(), t * t.sin()], dim=1)
    points = points + noise * torch.randn((n, 2), generator=generator, device=gen_device)
    return (points / SWISSROLL_SCALE).to(device)


def swissroll(noise: float = 0.25) -> SampledData:
    """The 2-D swiss roll of the WGAN-GP toy experiments (``noise`` is added before the 1/7.5 scaling)."""
    noise = _float_option("swissroll", "noise", noise, positive=False)
    return SampledData("swissroll", partial(_sample_swissroll, noise=noise), (2,), kind=POINTS)


# --- small image sets ---------------------------------------------------------------------------------------


def digits(size: int = 28) -> TensorData:
    """scikit-learn's 1,797 8x8 digits (values 0..16) as uint8 0..255, upsampled to ``size``; offline."""
    size = _int_option("digits", "size", size, 8)
    from sklearn.datasets import load_digits

    bunch = load_digits()
    values = torch.from_numpy(np.asarray(bunch.images, dtype=np.float64))
    images = (values * (255.0 / 16.0)).round().clamp(0, 255).to(torch.uint8).unsqueeze(1)
    return _image_data("digits", images, torch.from_numpy(np.asarray(bunch.target)), size)


# --- Fashion-MNIST (IDX files) ------------------------------------------------------------------------------

IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
FASHION_SIZES = {"train": 60000, "test": 10000}
_IDX_UBYTE = 0x08


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """Parse an IDX file (gzip-compressed if it ends in .gz) of unsigned bytes with ``ndim`` dimensions.

    Validates the magic number (0, 0, 0x08, ndim) and that the payload holds exactly prod(dims) bytes, so a
    truncated or corrupt download is an error naming the file rather than silently wrong data.
    """
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                raw = handle.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"cannot read IDX file {path}: {exc}",
                        hint="the file is corrupt or truncated: delete it and fetch it again") from exc
    header = 4 + 4 * ndim
    if len(raw) < header or raw[0] != 0 or raw[1] != 0 or raw[2] != _IDX_UBYTE or raw[3] != ndim:
        raise DataError(f"{path} is not an IDX file of unsigned bytes with {ndim} dimensions (magic number "
                        f"{raw[:4].hex() or 'missing'})", hint="the file is corrupt: fetch it again")
    dims = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(dims))
    if len(raw) - header != expected:
        raise DataError(f"{path} is truncated or corrupt: its header says {dims} ({expected} bytes), the "
                        f"file holds {len(raw) - header} bytes", hint="delete it and fetch it again")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()


def _idx_file(folder: Path, name: str) -> Path | None:
    """``name`` (.gz) in ``folder``, or its uncompressed twin (torchvision extracts what it downloads)."""
    for candidate in (folder / name, folder / name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def _fashion_candidates(root: Any) -> list[Path]:
    """Folders that may hold the IDX files, in lookup order."""
    folders: list[Path] = []
    for base in (root, os.environ.get(DATA_ENV)):
        if base not in (None, ""):
            base = Path(base).expanduser()
            folders += [base, base / "FashionMNIST" / "raw"]
    folders += [SYSTEM_FASHION_MNIST, CACHE_ROOT.expanduser() / "FashionMNIST" / "raw"]
    return folders


def fashion_mnist(split: str = "train", size: int = 28, root: str | None = None,
                  download: bool = True) -> TensorData:
    """Fashion-MNIST from the original IDX files; falls back to a torchvision download into the cache."""
    train = _split_option("fashion-mnist", split)
    size = _int_option("fashion-mnist", "size", size, 8)
    download = _bool_option("fashion-mnist", "download", download)
    if root is not None and not isinstance(root, (str, os.PathLike)):
        raise ConfigError(f"root must be a folder path, got {root!r}", hint="e.g. --set root=/data/fashion")
    image_name, label_name = IDX_FILES[split]
    looked = _fashion_candidates(root)
    for folder in looked:
        image_file, label_file = _idx_file(folder, image_name), _idx_file(folder, label_name)
        if image_file is None or label_file is None:
            continue
        images, labels = read_idx(image_file, 3), read_idx(label_file, 1)
        if images.shape[1:] != (28, 28) or images.shape[0] != labels.shape[0]:
            raise DataError(f"{image_file} holds {images.shape} images for {labels.shape[0]} labels in "
                            f"{label_file}; Fashion-MNIST has [N, 28, 28] images and N labels",
                            hint="the files do not belong together: fetch all four again")
        if labels.size and labels.max() > 9:
            raise DataError(f"{label_file} has labels above 9", hint="the file is corrupt: fetch it again")
        return _image_data("fashion-mnist", torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels),
                           size)

    hint = ("`apt-get install dataset-fashion-mnist` (puts the files in /usr/share/datasets/fashion-mnist), "
            f"or download the four files ({', '.join(IDX_FILES['train'] + IDX_FILES['test'])}) into a folder "
            "and pass --set root=DIR")
    where = ", ".join(str(f) for f in dict.fromkeys(looked))
    if not download:
        raise DataError(f"Fashion-MNIST {image_name} / {label_name} not found (looked in {where}; "
                        "download=false)", hint=hint)
    cache = CACHE_ROOT.expanduser()
    try:
        images_t, labels_t = load_torchvision("FashionMNIST", cache, train, True, "FashionMNIST/raw/*")
    except DataError as exc:
        raise DataError(f"Fashion-MNIST {image_name} / {label_name} not found (looked in {where}) and the "
                        f"download into {cache} failed: {exc.message}", hint=hint) from exc
    return _image_data("fashion-mnist", images_t, labels_t, size)


# --- torchvision sets ---------------------------------------------------------------------------------------


def mnist(split: str = "train", size: int = 28, root: str | None = None, download: bool = True) -> TensorData:
    """MNIST through torchvision (downloaded once into the data root)."""
    train = _split_option("mnist", split)
    size = _int_option("mnist", "size", size, 8)
    download = _bool_option("mnist", "download", download)
    images, labels = load_torchvision("MNIST", _data_root(root), train, download, "MNIST/raw/*-ubyte")
    return _image_data("mnist", images, labels, size)


def cifar10(split: str = "train", size: int = 32, root: str | None = None,
            download: bool = True) -> TensorData:
    """CIFAR-10 through torchvision (downloaded once into the data root), 3x32x32, resized to ``size``."""
    train = _split_option("cifar10", split)
    size = _int_option("cifar10", "size", size, 8)
    download = _bool_option("cifar10", "download", download)
    images, labels = load_torchvision("CIFAR10", _data_root(root), train, download, "cifar-10-batches-py/")
    return _image_data("cifar10", images, labels, size)


# --- any folder of images -----------------------------------------------------------------------------------


def image_files(path: Path) -> list[Path]:
    """Every image file under ``path`` (recursive, any suffix case), sorted for a reproducible order."""
    return sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _load_image(file: Path, size: int, mode: str) -> np.ndarray:
    """Decode one image, center-crop it to a square and resize it to ``size`` (PIL: sizes differ per file)."""
    from PIL import Image

    try:
        with Image.open(file) as image:
            image = image.convert(mode)
            width, height = image.size
            side = min(width, height)
            left, top = (width - side) // 2, (height - side) // 2
            box = (left, top, left + side, top + side)
            image = image.resize((size, size), Image.Resampling.BILINEAR, box=box)
            array = np.asarray(image, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise DataError(f"cannot read image {file}: {exc}",
                        hint="the file is corrupt or not an image: remove it from the folder") from exc
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def folder(path: str | None = None, size: int = 64, channels: int = 3) -> TensorData:
    """Every png/jpg/jpeg/bmp/webp under ``path`` (recursive), center-cropped square, resized to ``size``."""
    if path in (None, ""):
        raise ConfigError("data set 'folder' needs the folder of images", hint="pass --set path=DIR")
    if not isinstance(path, (str, os.PathLike)):
        raise ConfigError(f"data set 'folder': path must be a folder path, got {path!r}",
                          hint="pass --set path=DIR")
    size = _int_option("folder", "size", size, 8)
    if channels not in (1, 3) or isinstance(channels, bool):
        raise ConfigError(f"data set 'folder': channels must be 1 (greyscale) or 3 (RGB), got {channels!r}")
    root = Path(path).expanduser()
    if not root.is_dir():
        raise ConfigError(f"data set 'folder': {root} is not a folder",
                          hint="pass --set path=DIR with an existing DIR")
    files = image_files(root)
    if not files:
        raise ConfigError(f"data set 'folder': no images ({', '.join(IMAGE_SUFFIXES)}) under {root}",
                          hint="point --set path=DIR at a folder that holds image files (subfolders count)")
    from tqdm import tqdm

    mode = "L" if channels == 1 else "RGB"
    images = np.empty((len(files), channels, size, size), dtype=np.uint8)
    progress: Iterable[Path] = tqdm(files, desc=f"loading {root.name}", unit="img",
                                    disable=len(files) <= PROGRESS_THRESHOLD)
    for i, file in enumerate(progress):
        images[i] = _load_image(file, size, mode)
    return TensorData("folder", torch.from_numpy(images), kind=IMAGES)


# --- registration -------------------------------------------------------------------------------------------


@hookimpl
def register_datasets(register) -> None:  # noqa: ANN001 - the hook's callback
    register(DatasetSpec(
        name="gaussians8", factory=gaussians8, options={"radius": 2.0, "std": 0.02},
        recommended=toy_recommended(), paper=METZ,
        description="8 Gaussians on a ring (angles 2 pi k/8); fresh samples each batch; known modes."))
    register(DatasetSpec(
        name="gaussians25", factory=gaussians25, options={"std": 0.05},
        recommended=toy_recommended(steps=3000), paper=VEEGAN,
        description="25 Gaussians on the grid {-4, -2, 0, 2, 4}^2; fresh samples each batch; known modes."))
    register(DatasetSpec(
        name="swissroll", factory=swissroll, options={"noise": 0.25}, recommended=toy_recommended(),
        paper=GULRAJANI, description="2-D swiss roll (sklearn's x, z / 7.5); fresh samples every batch."))
    register(DatasetSpec(
        name="digits", factory=digits, options={"size": 28}, paper=DIGITS_PAPER,
        description="scikit-learn's 1,797 real 8x8 handwritten digits, upsampled; always available offline."))
    register(DatasetSpec(
        name="fashion-mnist", aliases=("fashion",), factory=fashion_mnist,
        options={"split": "train", "size": 28, "root": None, "download": True}, paper=XIAO,
        description="Fashion-MNIST from the IDX files (apt-get install dataset-fashion-mnist, --set root=DIR,"
                    " or a torchvision download)."))
    register(DatasetSpec(
        name="mnist", factory=mnist, options={"split": "train", "size": 28, "root": None, "download": True},
        paper=LECUN, description="MNIST through torchvision; downloaded once into ~/.cache/ganzoo/datasets."))
    register(DatasetSpec(
        name="cifar10", aliases=("cifar-10",), factory=cifar10,
        options={"split": "train", "size": 32, "root": None, "download": True}, paper=KRIZHEVSKY,
        description="CIFAR-10 through torchvision; downloaded once into ~/.cache/ganzoo/datasets."))
    register(DatasetSpec(
        name="folder", factory=folder, options={"path": None, "size": 64, "channels": 3},
        description="Every image under --set path=DIR (recursive), center-cropped, resized to size x size."))
