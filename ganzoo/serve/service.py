"""What the sampling page and API do, without a server: every action as a plain method over the model store.

:class:`SamplingService` validates its inputs (:mod:`ganzoo.serve.validation`), resolves model references through
:meth:`ModelStore.get` only (never a path), keeps loaded generators and critics in bounded LRU caches
(:mod:`ganzoo.serve.cache`), draws samples through one dynamic batcher (:mod:`ganzoo.serve.batching`) and writes
its pictures into a private temporary folder, returning their paths. :mod:`ganzoo.serve.app` wires these methods
to Gradio events and :mod:`ganzoo.serve.api` to HTTP routes; tests and scripts can call them directly.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
import uuid
import weakref
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ganzoo.errors import GanzooError
from ganzoo.plugin.data import images_to_uint8
from ganzoo.runs.files import atomic_write_bytes
from ganzoo.runs.networks import describe_weights
from ganzoo.runs.noise import seeded_noise
from ganzoo.serve import distances, figures, validation
from ganzoo.serve.batching import Batcher
from ganzoo.serve.cache import LRUCache
from ganzoo.store import CARD_FILE, CRITIC_FILE, CURVES_FILE, LOG_FILE, ModelRecord, ModelStore
from ganzoo.store.loading import stored_weights

DEFAULT_CACHE_SIZE = validation.DEFAULT_CACHE_SIZE
POINT_CLOUD = 256  # points per frame when interpolating a 2-D model
MIN_FRAME_PIXELS = 96  # interpolation frames of small images are enlarged to at least this
SURFACE_RESOLUTION = 80  # critic evaluated on an 80 x 80 grid
OUTPUT_MAX_AGE_S = 600.0  # Gradio copies outputs into its own cache at once; ours can go after this
OUTPUT_SWEEP_EVERY_S = 60.0  # how often a request looks for old outputs (not every request: the folder can be large)
_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.DOTALL)
_RELATIVE_IMAGE = re.compile(r"!\[([^\]]*)\]\((?!https?://)([^)]+)\)")


def _slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation between rows of ``a`` and ``b`` (the usual path between Gaussian latents).

    Falls back to a straight line for (nearly) parallel rows.
    """
    a_unit, b_unit = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    omega = torch.acos((a_unit * b_unit).sum(1, keepdim=True).clamp(-1.0, 1.0))
    sin = torch.sin(omega)
    linear = (1 - t) * a + t * b
    curved = (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / sin.clamp_min(1e-8)
    return torch.where(sin.abs() < 1e-6, linear, curved)


def _to_pil(image: torch.Tensor) -> Image.Image:
    """One image in [-1, 1] ([C, H, W]) as a PIL image."""
    array = images_to_uint8(image).permute(1, 2, 0).numpy()
    return Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array).convert("RGB")


def is_toy(config: Mapping[str, Any]) -> bool:
    """Whether a model (its config, or :meth:`SamplingService.model_info`'s summary) makes 2-D points."""
    return config.get("data_kind") == "points" and list(config.get("shape") or ()) == [2]


def describe(record: ModelRecord) -> str:
    """``name:version: arch + loss on dataset, headline``: how the model picker lists a model."""
    return f"{record.ref}: {record.arch} + {record.loss} on {record.dataset}, {record.headline or 'not evaluated'}"


class SamplingService:
    """The sampling page's actions over ``store`` (default: the store at ``GANZOO_HOME``).

    ``cache_size`` generators (and as many critics) stay loaded; ``loader``/``critic_loader`` default to
    :func:`ganzoo.store.loading.load_generator` / :func:`~ganzoo.store.loading.load_critic` (tests pass wrappers).
    Samples (the page's Generate and the API's samples route) are drawn by ``self.batcher``, a
    :class:`~ganzoo.serve.batching.Batcher` made with ``batching`` (its keyword arguments: ``max_batch``,
    ``max_wait_ms``, ``queue_size``, ``concurrency``).
    """

    def __init__(self, store: ModelStore | None = None, *, cache_size: int = DEFAULT_CACHE_SIZE,
                 device: str = "cpu", loader: Callable[..., Any] | None = None,
                 critic_loader: Callable[..., Any] | None = None, batching: Mapping[str, Any] | None = None,
                 precision: str = "fp32") -> None:
        from ganzoo.store.loading import load_critic, load_generator

        self.store = store if store is not None else ModelStore()
        self.device = device
        self.precision = precision  # generators sample in it (bf16: autocast, float32 out)
        self._load_generator = loader or load_generator
        self._load_critic = critic_loader or load_critic
        self.generators: LRUCache[Any] = LRUCache(self._generator_for, cache_size)
        self.critics: LRUCache[Any] = LRUCache(self._critic_for, cache_size)
        self._real: dict[str, torch.Tensor] = {}
        self.batcher = Batcher(self.generators.get, **dict(batching or {}))
        self.workdir = Path(tempfile.mkdtemp(prefix="ganzoo-serve-"))
        # deleted by close(), or when the service is garbage-collected or the interpreter exits
        self._remove_workdir = weakref.finalize(self, shutil.rmtree, self.workdir, True)
        self._next_sweep = 0.0  # time.monotonic() after which _output next deletes old outputs

    # --- models ---------------------------------------------------------------------------------------------

    def _generator_for(self, ref: str) -> Any:
        if self.precision != "fp32":
            return self._load_generator(ref, device=self.device, store=self.store, precision=self.precision)
        return self._load_generator(ref, device=self.device, store=self.store)

    def _critic_for(self, ref: str) -> Any:
        return self._load_critic(ref, device=self.device, store=self.store)

    def record(self, model: Any) -> ModelRecord:
        """The stored version ``model`` names, after validating the reference ("name" means its newest version)."""
        return self.store.get(validation.model_ref(model))

    def generator(self, record: ModelRecord) -> Any:
        return self.generators.get(record.ref)

    def catalogue(self) -> list[dict[str, Any]]:
        """Every stored version as :meth:`list_models` has it, with the noise size, the sample shape, the
        evaluation results and the card's metadata (its YAML front matter; None if the card cannot be read)."""
        from ganzoo.store.cards import parse_front_matter

        rows = []
        for record in self.store.list():
            try:
                card = parse_front_matter(self.store.file(record, CARD_FILE).read_text(encoding="utf-8"))
            except (GanzooError, OSError, ValueError):
                card = None
            rows.append({**self._row(record), "latent_dim": record.config.get("latent_dim"),
                         "shape": record.config.get("shape"), "metrics": list(record.metrics), "card": card})
        return rows

    def list_models(self) -> list[dict[str, Any]]:
        """Every stored version, with the label the picker shows."""
        return [self._row(record) for record in self.store.list()]

    @staticmethod
    def _row(r: ModelRecord) -> dict[str, Any]:
        return {"ref": r.ref, "label": describe(r), "name": r.name, "version": r.version, "arch": r.arch,
                "loss": r.loss, "dataset": r.dataset, "data_kind": r.config.get("data_kind"),
                "headline": r.headline, "created": r.created}

    def choices(self) -> list[tuple[str, str]]:
        """(label, ref) pairs for the model picker."""
        return [(row["label"], row["ref"]) for row in self.list_models()]

    def model_info(self, model: Any) -> tuple[str, dict[str, Any]]:
        """(the model card as Markdown for the page, a summary dict)."""
        record = self.record(model)
        card = self.store.file(record, CARD_FILE).read_text(encoding="utf-8")
        card = _FRONT_MATTER.sub("", card, count=1)
        card = _RELATIVE_IMAGE.sub(lambda m: f"*({m.group(1) or m.group(2)}: shown in the tabs above)*", card)
        info = {"ref": record.ref, "label": describe(record), "arch": record.arch, "loss": record.loss,
                "dataset": record.dataset, "data_kind": record.config["data_kind"],
                "latent_dim": record.config["latent_dim"], "shape": record.config["shape"],
                "has_critic": CRITIC_FILE in self.store.files(record), "headline": record.headline,
                "generator": describe_weights(stored_weights(self.store, record),
                                              record.config.get("train_config", {}).get("ema")),
                "metrics": list(record.metrics), "created": record.created}
        return card, info

    # --- outputs --------------------------------------------------------------------------------------------

    def _output(self, stem: str, suffix: str) -> Path:
        """A fresh file name in the work folder; once a minute, outputs over ten minutes old are deleted on the way."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        if time.monotonic() >= self._next_sweep:
            self._next_sweep = time.monotonic() + OUTPUT_SWEEP_EVERY_S
            cutoff = time.time() - OUTPUT_MAX_AGE_S
            for old in self.workdir.iterdir():
                try:
                    if old.stat().st_mtime < cutoff:
                        old.unlink()
                except OSError:
                    pass
        return self.workdir / f"{stem}-{uuid.uuid4().hex[:12]}{suffix}"

    def output(self, stem: str, suffix: str) -> Path:
        """A fresh file name in the page's work folder (for actions defined outside this class: the Compare tab)."""
        return self._output(stem, suffix)

    def real_points(self, generator: Any) -> torch.Tensor:
        """Real points of a 2-D model's data set (1,000, fixed seed), cached per model; empty if unavailable."""
        from ganzoo.store.sampling import real_points_of

        ref = generator.record.ref
        if ref not in self._real:
            self._real[ref] = real_points_of(generator)
        return self._real[ref]

    # --- samples (through the batcher) ----------------------------------------------------------------------

    def submit(self, model: Any, n: Any = 64, seed: Any = 0) -> tuple[ModelRecord, Future]:
        """Check the inputs, resolve ``model`` and queue the request with the batcher: (its record, a future of
        the ``[n, *shape]`` samples). Raises :class:`~ganzoo.serve.batching.Busy` at once when the queue is full."""
        n, seed = validation.sample_count(n), validation.seed(seed)
        record = self.record(model)
        return record, self.batcher.submit(record.ref, n, seed)

    def encode(self, record: ModelRecord, samples: torch.Tensor, seed: int, fmt: str = "png") -> bytes:
        """The bytes ``ganzoo sample`` writes for these samples (:func:`ganzoo.store.sampling.samples_bytes`)."""
        from ganzoo.store.sampling import samples_bytes

        generator = self.generators.get(record.ref)
        real = self.real_points(generator) if fmt == "png" and generator.data_kind == "points" else None
        return samples_bytes(samples, generator, seed, fmt, real)

    def sample_bytes(self, model: Any, n: Any = 64, seed: Any = 0, fmt: str = "png") -> tuple[ModelRecord, bytes]:
        """(the record, the file's bytes) of ``n`` samples drawn with ``seed``: the same bytes ``ganzoo sample
        NAME --n N --seed S --out x.FMT`` writes."""
        record, future = self.submit(model, n, seed)
        return record, self.encode(record, future.result(), validation.seed(seed), fmt)

    def generate(self, model: Any, seed: Any = 0, n: Any = 64) -> Path:
        """A PNG of ``n`` samples drawn with ``seed``: an image grid, or for 2-D models a scatter over real data
        (the PNG ``ganzoo sample`` writes)."""
        _, data = self.sample_bytes(model, n, seed, "png")
        return atomic_write_bytes(self._output("samples", ".png"), data)

    def interpolate(self, model: Any, seed_a: Any = 0, seed_b: Any = 1, frames: Any = 8) -> tuple[Path, Path]:
        """(a PNG strip of ``frames`` frames, an animated GIF) along the latent path from ``seed_a`` to ``seed_b``.

        Images: one sample whose noise moves from seed_a's to seed_b's (frame 0 is ``generate(seed_a, n=1)``),
        enlarged (nearest neighbour) to at least 96 pixels. 2-D models: a cloud of 256 points moving from seed_a's
        noise to seed_b's. The path is spherical (slerp). The strip has 2-pixel white gaps; the GIF plays the frames
        forward and back (2 * frames - 2 pictures), looping.
        """
        seed_a, seed_b = validation.seed(seed_a, "seed_a"), validation.seed(seed_b, "seed_b")
        count = validation.frame_count(frames)
        record = self.record(model)
        generator = self.generator(record)
        points = generator.data_kind == "points"
        n = POINT_CLOUD if points else 1
        z_a, z_b = seeded_noise(n, generator.latent_dim, seed_a), seeded_noise(n, generator.latent_dim, seed_b)
        with torch.no_grad():
            outputs = [generator(_slerp(z_a, z_b, i / (count - 1)).to(generator.device)).cpu()
                       for i in range(count)]
        if points:
            real = self.real_points(generator).numpy()
            limits = figures.limits_of(real, *(o.numpy() for o in outputs))
            images = [figures.to_image(figures.scatter(o.numpy(), real, f"t = {i / (count - 1):.2f}", size=2.4,
                                                       dpi=75, limits=limits, legend=False))
                      for i, o in enumerate(outputs)]
        else:
            images = [figures.enlarge(_to_pil(o[0]), MIN_FRAME_PIXELS) for o in outputs]
        strip_path = self._output("interpolation", ".png")
        figures.strip(images).save(strip_path, format="PNG")
        return strip_path, figures.save_gif(images, self._output("interpolation", ".gif"))

    def curves(self, model: Any) -> Path:
        """The model's training curves: its stored curves.png, else re-plotted from its stored metrics.jsonl."""
        record = self.record(model)
        files = self.store.files(record)
        target = self._output("curves", ".png")
        if CURVES_FILE in files:
            shutil.copyfile(self.store.file(record, CURVES_FILE), target)
            return target
        if LOG_FILE in files:
            from ganzoo.runs.folder import read_metrics
            from ganzoo.runs.plots import save_curves

            records = read_metrics(self.store.file(record, LOG_FILE))
            return save_curves(records, target, f"{record.arch} + {record.loss} on {record.dataset}")
        raise GanzooError(f"model {record.ref} was stored without training curves or a training log",
                          hint="models stored by `ganzoo train` have both; re-train it to get them")

    def critic_surface(self, model: Any, seed: Any = 0, n: Any = 256) -> Path:
        """A PNG of the critic's value over the plane with real and generated points (2-D models with a critic)."""
        n, seed = validation.sample_count(n), validation.seed(seed)
        record = self.record(model)
        if not is_toy(record.config):
            raise GanzooError(f"model {record.ref} makes {record.config['data_kind']} of shape "
                              f"{record.config['shape']}; the critic surface is drawn for 2-D toy models only",
                              hint="pick a model trained on gaussians8, gaussians25 or swissroll")
        critic = self.critics.get(record.ref)
        if critic is None:
            raise GanzooError(f"model {record.ref} was stored without critic weights, so there is no surface to draw",
                              hint="models stored by `ganzoo train` keep their critic; re-train or re-import it "
                                   "with critic.safetensors")
        generator = self.generator(record)
        fake = generator.sample(n, seed=seed).cpu().numpy()
        real = self.real_points(generator).numpy()
        x0, x1, y0, y1 = figures.limits_of(real, fake, margin=0.25)
        xs, ys = np.meshgrid(np.linspace(x0, x1, SURFACE_RESOLUTION), np.linspace(y0, y1, SURFACE_RESOLUTION))
        grid = torch.from_numpy(np.stack([xs.ravel(), ys.ravel()], 1)).float()
        with torch.no_grad():
            values = critic(grid.to(next(critic.parameters()).device)).reshape(-1).float().cpu().numpy()
        if not np.isfinite(values).all():
            raise GanzooError(f"model {record.ref}: the critic returns non-finite values",
                              hint="the stored critic diverged during training; re-train the model")
        fig = figures.value_surface(xs, ys, values.reshape(xs.shape), fake, real,
                                    f"{record.ref}: critic value (WGAN-GP paper, figure 1 style)")
        return figures.save_png(fig, self._output("critic", ".png"))

    def distances(self, theta: Any = 0.5) -> tuple[Path, dict[str, Any]]:
        """The seeds' example at ``theta``: (a PNG of W, JS, KL, TV against theta, the numbers at ``theta``)."""
        theta = validation.real_number(theta, "theta", -distances.THETA_LIMIT, distances.THETA_LIMIT)
        w_samples = distances.empirical_w1(theta)
        fig = distances.figure(theta, w_samples)
        return figures.save_png(fig, self._output("distances", ".png")), distances.table(theta, w_samples)

    def close(self) -> None:
        """Stop the batcher, drop cached models and delete the work folder."""
        self.batcher.close()
        self.generators.clear()
        self.critics.clear()
        self._remove_workdir()
