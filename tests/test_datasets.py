"""The built-in data sets: the RealData contract for every registered entry, then each loader's own promises.

The contract tests are parametrised over the registry, so a new data-set entry is tested the moment it
registers. Entries that need files absent on this offline machine (mnist, cifar10) are skipped there, with the
reason; their offline failure path is tested for real below (a DataError that says how to get the files).
"""

from __future__ import annotations

import gzip
import math
import time
from pathlib import Path

import ganzoo_plugins.datasets as ds
import numpy as np
import pytest
import torch
from data_support import FASHION_DIR, needs_fashion
from PIL import Image

from ganzoo.errors import ConfigError, DataError
from ganzoo.plugin.data import IMAGES, POINTS, RealData, SampledData, TensorData, to_unit_range
from ganzoo.plugin.loading import get_registry

DATASETS = get_registry().entries("dataset")


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def write_pngs(folder: Path) -> list[Path]:
    """A few small images of different sizes and modes, one in a subfolder (the loader is recursive)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sub").mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    files = []
    for i, (w, h, mode) in enumerate([(20, 12, "RGB"), (16, 16, "L"), (9, 30, "RGBA"), (40, 40, "RGB")]):
        array = rng.integers(0, 256, size=(h, w, len(mode)) if mode != "L" else (h, w), dtype=np.uint8)
        path = folder / ("sub" if i == 2 else ".") / f"img{i}.png"
        Image.fromarray(array, mode).save(path)
        files.append(path)
    return files


@pytest.fixture(scope="module")
def png_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 random images of assorted sizes: enough for batches of 16 in the contract tests."""
    folder = tmp_path_factory.mktemp("pngs")
    rng = np.random.default_rng(1)
    for i in range(24):
        w, h = rng.integers(8, 40, size=2)
        pixels = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        Image.fromarray(pixels, "RGB").save(folder / f"{i:02}.png")
    return folder


_BUILT: dict[str, RealData | str] = {}  # built data, or why it cannot be built offline


@pytest.fixture
def built(request: pytest.FixtureRequest, png_folder: Path) -> RealData:
    """The entry built with its default options (offline: download=False), once per module."""
    spec = request.param
    if spec.name not in _BUILT:
        options = dict(spec.options)
        if "download" in options:
            options["download"] = False
        if spec.name == "folder":
            options.update(path=str(png_folder), size=16)
        try:
            _BUILT[spec.name] = spec.factory(**options)
        except DataError as exc:
            _BUILT[spec.name] = f"{spec.name} needs files that are not present offline: {exc.message}"
    data = _BUILT[spec.name]
    if isinstance(data, str):
        pytest.skip(data)
    return data.to("cpu")  # a fresh copy: same tensors, data order not yet started


by_entry = pytest.mark.parametrize("built", DATASETS, ids=[s.name for s in DATASETS], indirect=True)


# --- the contract, for every registered entry ---------------------------------------------------------------


@by_entry
def test_batch_shape_dtype_range(built: RealData) -> None:
    assert isinstance(built, RealData)
    assert built.kind in (IMAGES, POINTS)
    assert built.device == torch.device("cpu")
    batch = built.batch(16, gen(0))
    assert batch.dtype == torch.float32
    assert tuple(batch.shape) == (16, *built.shape)
    assert torch.isfinite(batch).all()
    if built.kind == IMAGES:
        assert len(built.shape) == 3 and built.shape[0] in (1, 3)
        assert batch.min() >= -1.0 and batch.max() <= 1.0
        assert batch.max() > batch.min()
    else:
        assert len(built.shape) == 1
    sample = built.sample(10, gen(1))
    assert tuple(sample.shape) == (10, *built.shape) and sample.dtype == torch.float32


@by_entry
def test_same_seed_same_batches_different_seed_differs(built: RealData) -> None:
    first, second, other = built.to("cpu"), built.to("cpu"), built.to("cpu")
    g1, g2, g3 = gen(123), gen(123), gen(124)
    a = [first.batch(8, g1) for _ in range(3)]
    b = [second.batch(8, g2) for _ in range(3)]
    c = [other.batch(8, g3) for _ in range(3)]
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(torch.equal(x, z) for x, z in zip(a, c, strict=True))
    assert torch.equal(built.sample(12, gen(5)), built.sample(12, gen(5)))


@by_entry
def test_epochs_without_replacement_or_fresh_samples(built: RealData) -> None:
    if not isinstance(built, TensorData):  # an analytic distribution: every batch is a fresh draw
        g = gen(7)
        first, second = built.batch(64, g), built.batch(64, g)
        assert not torch.equal(first, second)
        return
    assert built.samples.dtype == torch.uint8, "images are stored as uint8 (4x less memory)"
    if built.labels is not None:
        assert built.labels.shape == (len(built),)
    batch_size = max(1, len(built) // 7)
    g = gen(7)
    batches = [built.batch(batch_size, g) for _ in range(len(built) // batch_size)]
    order = built.state_dict()["order"]
    assert torch.equal(order.sort().values, torch.arange(len(built))), "an epoch is a permutation of all"
    for i, batch in enumerate(batches):
        assert torch.equal(batch, to_unit_range(built.samples[order[i * batch_size:(i + 1) * batch_size]]))


@by_entry
def test_sampled_data_modes_are_consistent(built: RealData) -> None:
    if built.modes is None:
        assert built.mode_std is None
        return
    assert built.modes.dim() == 2 and built.modes.shape[1] == built.shape[0]
    assert built.mode_std is not None and built.mode_std > 0
    assert len(torch.unique(built.modes, dim=0)) == len(built.modes), "mode centres are distinct"


def test_every_entry_documents_itself() -> None:
    for spec in DATASETS:
        assert spec.description, spec.name
        assert isinstance(spec.recommended, dict)
        if spec.name in ("gaussians8", "gaussians25", "swissroll"):
            assert {"lr", "batch_size"} <= set(spec.recommendations()["penalty"])


# --- toy sets -----------------------------------------------------------------------------------------------


def test_gaussians8_centres_are_on_the_ring_at_2pi_k_over_8() -> None:
    data = ds.gaussians8()
    assert isinstance(data, SampledData)
    centres = data.modes.double()
    assert centres.shape == (8, 2)
    assert len(torch.unique(centres.float(), dim=0)) == 8
    assert torch.allclose(centres.norm(dim=1), torch.full((8,), 2.0, dtype=torch.float64), atol=1e-6)
    angles = torch.atan2(centres[:, 1], centres[:, 0]) % (2 * math.pi)
    expected = torch.arange(8, dtype=torch.float64) * 2 * math.pi / 8
    assert torch.allclose(angles, expected, atol=1e-6)
    assert data.mode_std == 0.02
    assert torch.allclose(ds.gaussians8(radius=3.0).modes.norm(dim=1), torch.full((8,), 3.0))


def test_gaussians8_samples_sit_on_their_modes() -> None:
    data = ds.gaussians8(std=0.02)
    x = data.sample(4000, gen(0)).double()
    nearest = torch.cdist(x, data.modes.double()).min(dim=1)
    assert nearest.values.std() < 0.05 and nearest.values.mean() < 0.04  # Rayleigh(0.02): mean 0.025
    counts = torch.bincount(nearest.indices, minlength=8)
    assert counts.min() > 400, "all 8 modes are drawn, about equally"


def test_gaussians25_grid() -> None:
    data = ds.gaussians25()
    axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    assert data.modes.shape == (25, 2)
    assert {tuple(p) for p in data.modes.tolist()} == {(a, b) for a in axis.tolist() for b in axis.tolist()}
    assert data.mode_std == 0.05


def test_swissroll_is_a_scaled_spiral() -> None:
    data = ds.swissroll(noise=0.0)
    assert data.modes is None
    x = data.sample(2000, gen(0)).double() * ds.SWISSROLL_SCALE
    radius = x.norm(dim=1)  # |(t cos t, t sin t)| = t in [1.5 pi, 4.5 pi]
    assert radius.min() >= 1.5 * math.pi - 1e-4 and radius.max() <= 4.5 * math.pi + 1e-4
    assert data.sample(2000, gen(0)).abs().max() < 2.0
    noisy = ds.swissroll().sample(2000, gen(0))
    assert not torch.equal(noisy, data.sample(2000, gen(0)))


@pytest.mark.parametrize(("factory", "options"), [
    (ds.gaussians8, {"std": 0.0}), (ds.gaussians8, {"radius": -1.0}), (ds.gaussians25, {"std": "big"}),
    (ds.swissroll, {"noise": -0.1}), (ds.digits, {"size": 4}), (ds.digits, {"size": 28.5}),
    (ds.digits, {"size": True}), (ds.fashion_mnist, {"split": "val"}), (ds.fashion_mnist, {"size": 0}),
    (ds.mnist, {"split": "validation"}), (ds.cifar10, {"download": "yes"}), (ds.folder, {}),
])
def test_bad_options_are_config_errors(factory, options) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError):
        factory(**options)


# --- image helpers and digits -------------------------------------------------------------------------------


def test_resize_images_keeps_dtype_constant_images_and_identity() -> None:
    images = torch.full((3, 2, 8, 8), 200, dtype=torch.uint8)
    up = ds.resize_images(images, 28)
    assert up.dtype == torch.uint8 and up.shape == (3, 2, 28, 28)
    assert (up == 200).all()
    down = ds.resize_images(torch.full((2, 1, 32, 32), 7, dtype=torch.uint8), 16)
    assert (down == 7).all()
    assert ds.resize_images(images, 8) is images
    with pytest.raises(ValueError):
        ds.resize_images(images.float(), 16)


def test_digits_are_the_1797_sklearn_digits() -> None:
    data = ds.digits(size=16)
    assert len(data) == 1797 and data.shape == (1, 16, 16)
    assert data.labels is not None and set(data.labels.tolist()) == set(range(10))
    assert data.samples.max() == 255 and data.samples.min() == 0
    assert ds.digits(size=8).samples.shape == (1797, 1, 8, 8)


# --- Fashion-MNIST ------------------------------------------------------------------------------------------


@pytest.fixture
def no_default_locations(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Hide the system copy, the cache and $GANZOO_DATA, so only the root a test passes can be found."""
    monkeypatch.setattr(ds, "SYSTEM_FASHION_MNIST", tmp_path / "no-system-copy")
    monkeypatch.setattr(ds, "CACHE_ROOT", tmp_path / "no-cache")
    monkeypatch.delenv(ds.DATA_ENV, raising=False)
    return tmp_path


@needs_fashion
@pytest.mark.parametrize(("split", "n"), [("train", 60000), ("test", 10000)])
def test_fashion_mnist_splits(monkeypatch: pytest.MonkeyPatch, split: str, n: int) -> None:
    monkeypatch.delenv(ds.DATA_ENV, raising=False)
    start = time.perf_counter()
    data = ds.fashion_mnist(split=split, download=False)
    elapsed = time.perf_counter() - start
    assert len(data) == n and data.shape == (1, 28, 28) and data.samples.dtype == torch.uint8
    assert data.labels is not None and data.labels.min() == 0 and data.labels.max() == 9
    assert torch.bincount(data.labels).tolist() == [n // 10] * 10  # Fashion-MNIST is exactly balanced
    assert data.samples.max() == 255
    assert elapsed < 10, f"parsing took {elapsed:.1f} s: the IDX parse must be bulk numpy, not per item"


@needs_fashion
def test_fashion_mnist_resize(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ds.DATA_ENV, raising=False)
    data = ds.fashion_mnist(split="test", size=32, download=False)
    assert data.samples.shape == (10000, 1, 32, 32)


@needs_fashion
@pytest.mark.parametrize("layout", ["flat", "torchvision"])
def test_fashion_mnist_root_layouts(no_default_locations: Path, layout: str) -> None:
    root = no_default_locations / "root"
    folder = root if layout == "flat" else root / "FashionMNIST" / "raw"
    folder.mkdir(parents=True)
    for name in ds.IDX_FILES["test"]:
        (folder / name).symlink_to(FASHION_DIR / name)
    data = ds.fashion_mnist(split="test", root=str(root), download=False)
    assert len(data) == 10000


@needs_fashion
def test_fashion_mnist_found_through_env(no_default_locations: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = no_default_locations / "env" / "FashionMNIST" / "raw"
    folder.mkdir(parents=True)
    for name in ds.IDX_FILES["test"]:
        (folder / name).symlink_to(FASHION_DIR / name)
    monkeypatch.setenv(ds.DATA_ENV, str(no_default_locations / "env"))
    assert len(ds.fashion_mnist(split="test", download=False)) == 10000


def test_fashion_mnist_missing_files_say_how_to_get_them(no_default_locations: Path) -> None:
    empty = no_default_locations / "empty"
    empty.mkdir()
    with pytest.raises(DataError) as info:
        ds.fashion_mnist(root=str(empty), download=False)
    text = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in text and "--set root=" in text
    assert str(empty) in text, "the error names where it looked"


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write_idx_set(folder: Path, n: int = 20) -> None:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for images_name, labels_name in ds.IDX_FILES.values():
        (folder / images_name).write_bytes(gzip.compress(_idx_bytes(rng.integers(0, 256, (n, 28, 28)))))
        (folder / labels_name).write_bytes(gzip.compress(_idx_bytes(rng.integers(0, 10, (n,)))))


def test_fashion_mnist_parses_idx_written_here(no_default_locations: Path) -> None:
    folder = no_default_locations / "idx"
    _write_idx_set(folder, n=20)
    data = ds.fashion_mnist(split="train", root=str(folder), download=False)
    assert len(data) == 20 and data.labels.max() <= 9
    # an uncompressed file (what torchvision leaves after extracting) is accepted too
    name = ds.IDX_FILES["test"][0]
    (folder / name.removesuffix(".gz")).write_bytes(gzip.decompress((folder / name).read_bytes()))
    (folder / name).unlink()
    assert len(ds.fashion_mnist(split="test", root=str(folder), download=False)) == 20


@pytest.mark.parametrize("damage", ["not-gzip", "truncated-gzip", "truncated-payload", "bad-magic"])
def test_corrupt_idx_file_is_a_data_error_naming_it(no_default_locations: Path, damage: str) -> None:
    folder = no_default_locations / "idx"
    _write_idx_set(folder)
    target = folder / ds.IDX_FILES["train"][0]
    raw = gzip.decompress(target.read_bytes())
    corrupted = {
        "not-gzip": b"this is not a gzip file at all",
        "truncated-gzip": target.read_bytes()[: len(target.read_bytes()) // 2],
        "truncated-payload": gzip.compress(raw[:-100]),
        "bad-magic": gzip.compress(b"\x00\x00\x0d\x03" + raw[4:]),
    }[damage]
    target.write_bytes(corrupted)
    with pytest.raises(DataError) as info:
        ds.fashion_mnist(split="train", root=str(folder), download=False)
    assert str(target) in str(info.value)


# --- torchvision sets offline -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_torchvision_sets_offline_say_how_to_get_the_files(tmp_path: Path, name: str) -> None:
    spec = get_registry().dataset(name)
    with pytest.raises(DataError) as info:
        spec.factory(root=str(tmp_path), download=False)
    text = str(info.value)
    assert str(tmp_path) in text
    assert "internet" in text and "--set root=DIR" in text


def test_torchvision_root_defaults_to_env_then_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ds.DATA_ENV, str(tmp_path / "env"))
    assert ds._data_root(None) == tmp_path / "env"
    assert ds._data_root(str(tmp_path / "opt")) == tmp_path / "opt"
    monkeypatch.delenv(ds.DATA_ENV)
    assert ds._data_root(None) == ds.CACHE_ROOT.expanduser()


# --- folder -------------------------------------------------------------------------------------------------


def test_folder_loads_every_image_cropped_and_resized(tmp_path: Path) -> None:
    files = write_pngs(tmp_path / "imgs")
    (tmp_path / "imgs" / "notes.txt").write_text("not an image")
    data = ds.folder(path=str(tmp_path / "imgs"), size=12)
    assert len(data) == len(files) and data.shape == (3, 12, 12) and data.samples.dtype == torch.uint8
    grey = ds.folder(path=str(tmp_path / "imgs"), size=8, channels=1)
    assert grey.shape == (1, 8, 8)
    # sorted order: the 16x16 greyscale img1.png is second; resized to 8 its three RGB channels are equal
    rgb = ds.folder(path=str(tmp_path / "imgs"), size=8).samples[1]
    assert torch.equal(rgb[0], rgb[1]) and torch.equal(rgb[1], rgb[2])


def test_folder_center_crops(tmp_path: Path) -> None:
    array = np.zeros((10, 30), dtype=np.uint8)  # 30 wide, 10 high: the center 10x10 square is white
    array[:, 10:20] = 255
    Image.fromarray(array, "L").save(tmp_path / "wide.png")
    data = ds.folder(path=str(tmp_path), size=10, channels=1)
    assert (data.samples == 255).all()


def test_folder_corrupt_image_is_a_data_error_naming_it(tmp_path: Path) -> None:
    write_pngs(tmp_path)
    bad = tmp_path / "broken.png"
    good = (tmp_path / "img0.png").read_bytes()
    bad.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError) as info:
        ds.folder(path=str(tmp_path), size=8)
    assert str(bad) in str(info.value)
    bad.write_bytes(b"garbage, not a png")
    with pytest.raises(DataError, match="broken.png"):
        ds.folder(path=str(tmp_path), size=8)


def test_folder_errors_for_missing_empty_or_no_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--set path="):
        ds.folder()
    with pytest.raises(ConfigError, match="not a folder"):
        ds.folder(path=str(tmp_path / "missing"))
    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(ConfigError, match="not a folder"):
        ds.folder(path=str(tmp_path / "file.png"))
    empty = tmp_path / "empty"
    (empty / "deeper").mkdir(parents=True)
    (empty / "readme.txt").write_text("no images here")
    with pytest.raises(ConfigError, match="no images"):
        ds.folder(path=str(empty))
    with pytest.raises(ConfigError, match="channels"):
        ds.folder(path=str(tmp_path), channels=4)

