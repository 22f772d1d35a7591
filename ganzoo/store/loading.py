"""Load a stored model, safely: rebuilt through the plugin registry, weights from safetensors, sha256 checked first.

``load_generator("name:1")`` returns a :class:`LoadedGenerator` in eval mode, ready to sample; the same seed always
gives the same samples. Nothing is ever unpickled.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ganzoo.errors import GanzooError
from ganzoo.plugin.loading import get_registry
from ganzoo.plugin.registry import Registry
from ganzoo.runs.device import select_device
from ganzoo.runs.networks import build_networks, describe_weights, load_weights, read_weights
from ganzoo.runs.noise import generate_in_chunks, seeded_noise
from ganzoo.runs.precision import autocast, check_precision
from ganzoo.store import artifact
from ganzoo.store.model_store import ModelStore
from ganzoo.store.records import CRITIC_FILE, GENERATOR_EMA_FILE, GENERATOR_FILE, ModelRecord


class LoadedGenerator(nn.Module):
    """A stored generator with what a caller needs to use it.

    ``latent_dim``: size of the noise; ``shape``: one sample's shape ([C, H, W] images, [2] points);
    ``data_kind``: "images" (values in [-1, 1]) or "points"; ``record``: the store's :class:`ModelRecord`;
    ``weights``: "ema" (the generator's moving average, loaded when the model has one) or "raw".
    """

    def __init__(self, net: nn.Module, record: ModelRecord, weights: str = "raw", precision: str = "fp32") -> None:
        super().__init__()
        self.net = net
        self.record = record
        self.weights = weights
        self.precision = precision  # fp32, or bf16 / fp16 autocast for inference (float32 out)
        self.latent_dim = int(record.config["latent_dim"])
        self.shape = tuple(int(d) for d in record.config["shape"])
        self.data_kind = str(record.config["data_kind"])

    @property
    def device(self) -> torch.device:
        for tensor in (*self.net.parameters(), *self.net.buffers()):
            return tensor.device
        return torch.device("cpu")

    def forward(self, z: Tensor) -> Tensor:
        """``[B, latent_dim]`` noise -> ``[B, *shape]`` float32 samples (computed in ``precision``)."""
        if self.precision == "fp32":
            return self.net(z)
        with autocast(self.precision, self.device):
            return self.net(z).float()

    @torch.no_grad()
    def sample(self, n: int = 64, seed: int = 0) -> Tensor:
        """``n`` samples from noise drawn by a CPU ``torch.Generator`` seeded with ``seed`` (same seed, same samples),
        generated in chunks (:func:`ganzoo.runs.noise.generate_in_chunks`, as evaluation does).

        The result is float32 on the CPU; the caller's global RNG is not touched.
        """
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise GanzooError(f"the number of samples must be a whole number >= 1, got {n!r}", hint="e.g. --n 64")
        return generate_in_chunks(self, seeded_noise(n, self.latent_dim, seed), self.device)

    @property
    def description(self) -> str:
        """"averaged generator (EMA 0.999)" or "raw generator": which weights these are, for messages."""
        return describe_weights(self.weights, (self.record.config.get("train_config") or {}).get("ema"))

    def extra_repr(self) -> str:
        return (f"ref={self.record.ref!r}, latent_dim={self.latent_dim}, shape={self.shape}, kind={self.data_kind!r}, "
                f"weights={self.weights!r}")


def _load(ref: str, store: ModelStore | None, registry: Any) -> tuple[ModelRecord, nn.Module, nn.Module, ModelStore]:
    store = store or ModelStore()
    record = store.get(ref)
    source = f"model {record.ref}"
    config = artifact.validate(record.config, source)
    generator, critic = build_networks(config, registry or get_registry(), source)
    return record, generator, critic, store


def load_generator(ref: str, *, device: str = "cpu", store: ModelStore | None = None,
                   registry: Registry | None = None, raw: bool = False, precision: str = "fp32") -> LoadedGenerator:
    """The generator of stored model ``ref`` ("name" for the newest version, or "name:version"), on ``device``: its
    moving average when the model has one (trained with ``--set ema=DECAY``), unless ``raw``; else the raw generator.
    ``.weights`` says which ("ema" or "raw"). ``precision`` bf16 (or fp16 on CUDA) samples under autocast (weights
    stay float32, samples are float32).

    Raises :class:`~ganzoo.errors.GanzooError` for an unknown name, a tampered or truncated file (checked against the
    sha256 in the index), or an architecture plugin that is not installed (naming the distribution to install).
    """
    on = select_device(device)
    check_precision(precision, on)
    record, generator, _, store = _load(ref, store, registry)
    source = f"model {record.ref}"
    weights = stored_weights(store, record, raw)
    path = store.file(record, GENERATOR_EMA_FILE if weights == "ema" else GENERATOR_FILE)
    load_weights(generator, read_weights(path, source), "generator", source)
    return LoadedGenerator(generator, record, weights, precision).to(on).eval()


def stored_weights(store: ModelStore, record: ModelRecord, raw: bool = False) -> str:
    """The generator weights a stored model is used with: "ema" when it keeps a moving average and ``raw`` is not
    asked for, else "raw"."""
    return "ema" if not raw and GENERATOR_EMA_FILE in store.files(record) else "raw"


def load_critic(ref: str, *, device: str = "cpu", store: ModelStore | None = None,
                registry: Registry | None = None) -> nn.Module | None:
    """The critic of stored model ``ref`` in eval mode, or None when the model was stored without one."""
    record, _, critic, store = _load(ref, store, registry)
    if CRITIC_FILE not in store.files(record):
        return None
    source = f"model {record.ref}"
    path = store.file(record, CRITIC_FILE)
    load_weights(critic, read_weights(path, source), "critic", source)
    return critic.to(select_device(device)).eval()
