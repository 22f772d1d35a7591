"""The :class:`~ganzoo.plugin.experiment.ExperimentContext` an experiment's analysis receives."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganzoo.compare.report import write_report
from ganzoo.compare.table import Comparison, compare
from ganzoo.errors import GanzooError
from ganzoo.plugin.registry import Registry
from ganzoo.runs.checkpoint import load_checkpoint
from ganzoo.runs.folder import LOG_FILE, read_metrics, read_run
from ganzoo.runs.networks import build_networks, load_weights
from ganzoo.sweep.outcome import TrialOutcome


@dataclass
class RunContext:
    budget: str
    out: Path
    trials: Sequence[TrialOutcome]
    registry: Registry
    say: Callable[[str], None] = print

    def records(self, trial: TrialOutcome) -> list[dict[str, Any]]:
        if trial.run_dir is None:
            raise GanzooError(f"trial {trial.trial_id} has no run folder")
        return read_metrics(trial.run_dir / LOG_FILE)

    def networks(self, trial: TrialOutcome) -> tuple[Any, Any]:
        if trial.run_dir is None:
            raise GanzooError(f"trial {trial.trial_id} has no run folder")
        source = f"run {trial.run_dir}"
        config, run = read_run(trial.run_dir)
        _, state = load_checkpoint(trial.run_dir / "checkpoints")
        described = {"arch": config.arch, "shape": [int(d) for d in run["data"]["shape"]],
                     "latent_dim": config.latent_dim, "train_config": config.to_dict()}
        generator, critic = build_networks(described, self.registry, source)
        load_weights(generator, state["generator"], "generator", source)
        load_weights(critic, state["critic"], "critic", source)
        return generator.eval().requires_grad_(False), critic.eval().requires_grad_(False)

    def compare(self, trials: Sequence[TrialOutcome], metric: str, name: str) -> Comparison:
        comparison = compare(list(trials), registry=self.registry, metric=metric)
        write_report(comparison, self.out / name)
        return comparison

    def echo(self, text: str) -> None:
        self.say(text)
