"""What is evaluated: a generator with its latent size, sample shape and the data it was trained on. From a run
folder's newest checkpoint here; the API makes one from a stored model (:func:`ganzoo.api.evaluate_model`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ganzoo.plugin.loading import get_registry
from ganzoo.plugin.registry import Registry
from ganzoo.runs.checkpoint import load_checkpoint
from ganzoo.runs.device import select_device
from ganzoo.runs.folder import read_run
from ganzoo.runs.networks import build_networks, describe_weights, load_weights


@dataclass
class Subject:
    """A generator to evaluate and the data it was trained on."""

    generator: Callable[[Tensor], Tensor]
    latent_dim: int
    shape: tuple[int, ...]
    data_kind: str
    dataset: str
    dataset_options: dict[str, Any]
    source: str  # "model NAME:V" or "run DIR", for messages
    ref: str | None = None  # store reference, when it comes from the store
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    #: Which weights: "ema" (the generator's moving average, used when the model has one) or "raw".
    weights: str = "raw"
    #: Which distribution provided each plugin (config.json's ``plugins``), to name the one to install if missing.
    plugins: dict[str, Any] = field(default_factory=dict)


def subject_from_run(run_dir: str | Path, *, device: str = "cpu", registry: Registry | None = None,
                     raw: bool = False) -> Subject:
    """The generator of a ``ganzoo train`` run directory at its newest checkpoint (finished or not): its moving
    average when the run keeps one (``--set ema=DECAY``) unless ``raw``, else the raw generator."""
    run_dir = Path(run_dir)
    source = f"run {run_dir}"
    config, run = read_run(run_dir)
    data = run["data"]
    step, state = load_checkpoint(run_dir / "checkpoints")
    shape = [int(d) for d in data["shape"]]
    described = {"arch": config.arch, "shape": shape, "latent_dim": config.latent_dim, "train_config": config.to_dict()}
    generator, _ = build_networks(described, registry or get_registry(), source)
    weights = "ema" if "generator_ema" in state and not raw else "raw"
    load_weights(generator, state["generator_ema" if weights == "ema" else "generator"], "generator", source)
    chosen = select_device(device)
    generator = generator.to(chosen).eval().requires_grad_(False)
    return Subject(generator, config.latent_dim, tuple(shape), data["kind"], config.dataset,
                   dict(config.dataset_options), f"{source} (step {step}, {describe_weights(weights, config.ema)})",
                   device=chosen, weights=weights)

