"""Everything a sweep's trials will need, checked before any trial starts: each trial's settings resolve (an option
its loss or architecture does not take is refused, naming the trial), each architecture can take each data set with
each loss (the parts are built once per combination, on the CPU), and the metrics apply to the data."""

from __future__ import annotations

import json

import torch

from ganzoo.errors import GanzooError
from ganzoo.eval.engine import make_metrics
from ganzoo.plugin.registry import Registry
from ganzoo.runs.config import TrainConfig
from ganzoo.sweep.spec import SweepError, SweepSpec, Trial
from ganzoo.train.build import build_components
from ganzoo.train.resolve import resolve_config

SHARED_HINT = "a setting only some losses take goes in the sweep file's [loss_set.LOSS] (docs/sweeps.md)"


def trial_config(spec: SweepSpec, trial: Trial, registry: Registry, **run: object) -> TrainConfig:
    """The resolved settings of ``trial`` (``run``: device and other run settings that do not change the trial)."""
    overrides = {"steps": spec.steps, "seed": trial.seed, **run}
    try:
        return resolve_config(registry, trial.arch, trial.loss, trial.dataset, overrides, trial.settings)
    except GanzooError as exc:
        raise SweepError(f"trial {trial.trial_id} (loss {trial.loss}, arch {trial.arch}, data set {trial.dataset}): "
                         f"{exc.message}", hint="; ".join(h for h in (exc.hint, SHARED_HINT) if h)) from exc


def check_sweep(spec: SweepSpec, registry: Registry) -> dict[str, TrainConfig]:
    """trial id -> resolved settings, after checking every trial can be built (see the module docstring)."""
    configs = {trial.trial_id: trial_config(spec, trial, registry, device="cpu") for trial in spec.trials()}
    built: set[str] = set()
    losses: set[str] = set()
    cpu = torch.device("cpu")
    for trial in spec.trials():
        config = configs[trial.trial_id]
        parts_key = json.dumps([trial.loss, trial.arch, trial.dataset, config.arch_options, config.dataset_options,
                                config.latent_dim, config.batch_size], sort_keys=True, default=str)
        loss_key = json.dumps([trial.loss, config.loss_options], sort_keys=True, default=str)
        if parts_key in built and loss_key in losses:
            continue
        probe = TrainConfig.from_dict(config.to_dict())  # building completes a config (critic norm): use a copy
        try:
            if parts_key in built:
                registry.loss(trial.loss).factory(**probe.loss_options)
            else:
                _, data, _, _ = build_components(probe, registry, cpu)
                if spec.metrics:
                    make_metrics(registry, spec.metrics, data.kind)
        except GanzooError as exc:
            raise SweepError(f"trial {trial.trial_id}: {exc.message}", hint=exc.hint) from exc
        except Exception as exc:  # a plugin's own check, e.g. an image size an architecture cannot build
            raise SweepError(f"trial {trial.trial_id}: architecture {trial.arch!r} with loss {trial.loss!r} cannot "
                             f"be built for data set {trial.dataset!r}: {exc}",
                             hint="`ganzoo list` shows which sizes and data each architecture takes") from exc
        built.add(parts_key)
        losses.add(loss_key)
    return configs
