"""Scoring the generator while it trains (``ganzoo train --eval-every K``): the in-training evaluator the API hands
the trainer, built on the evaluation engine."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ganzoo.eval.engine import TRAINING_EVAL_N, generate, make_metrics, reference_data, run_metrics
from ganzoo.plugin.data import POINTS, RealData
from ganzoo.plugin.metric import STD_SUFFIX
from ganzoo.plugin.registry import Registry


class TrainingEvaluator:
    """Scores the generator being trained every ``eval_every`` steps (``ganzoo train --eval-every K``).

    The metric is ``config.eval_metric`` (default: ``w1`` for points, the exact distance the Wasserstein critic
    estimates; ``fid`` for images), on ``config.eval_n`` samples from FIXED noise, against the data set's test split
    when it has one (else the data set itself). Returns ``{"eval/<label>": value}`` for the step's log record. The
    generator is put in eval mode for the measurement and restored; no training RNG stream is touched.
    """

    def __init__(self, config: Any, registry: Registry, data: RealData, device: torch.device) -> None:
        name = config.eval_metric or ("w1" if data.kind == POINTS else "fid")
        [(self.name, self.metric)] = make_metrics(registry, [name], data.kind)
        if data.kind == POINTS:
            self.real = data  # analytic: fresh samples from the same distribution
        else:
            self.real = reference_data(registry, config.dataset, dict(config.dataset_options), None)
        self.n = config.eval_n or TRAINING_EVAL_N.get(data.kind, 1_000)
        self.seed = config.seed + 3
        self.latent_dim = config.latent_dim
        self.device = device

    def __call__(self, generator: nn.Module) -> dict[str, float]:
        was_training = generator.training
        generator.eval()
        try:
            fake = generate(generator, self.latent_dim, self.n, self.seed, self.device)
        finally:
            generator.train(was_training)
        [values] = run_metrics([self.metric], fake, self.real, self.seed)
        return {f"eval/{self.metric.label(k)}": float(v) for k, v in values.items() if not k.endswith(STD_SUFFIX)}
