"""An experiment's sweeps, run: each trial trained and evaluated, as :class:`~ganzoo.sweep.TrialOutcome`.

:func:`run_trials_sequentially` trains the trials one after another in this process (``--executor local``). It is
the one place that stands in for the sweep's executor: when ``ganzoo.sweep`` runs sweeps itself (state, resume,
other executors), this function is replaced by it. A finished trial's folder is reused, so running an experiment
again only analyses it again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ganzoo.api import make_trainer, prepare_run_dir
from ganzoo.errors import GanzooError
from ganzoo.eval.engine import evaluate
from ganzoo.eval.subjects import subject_from_run
from ganzoo.plugin.registry import Registry
from ganzoo.runs.checkpoint import latest_checkpoint_step
from ganzoo.runs.folder import LOG_FILE, read_metrics
from ganzoo.sweep.check import check_sweep, trial_config
from ganzoo.sweep.outcome import FAILED, FINISHED, TrialOutcome
from ganzoo.sweep.spec import SweepSpec, sweep_spec

EXECUTORS = ("local",)


def sweep_specs(values: Sequence[Mapping[str, Any]], registry: Registry) -> list[SweepSpec]:
    """Each sweep's values as a checked :class:`SweepSpec` (refused before any trial starts)."""
    specs = [sweep_spec(v, registry) for v in values]
    for spec in specs:
        check_sweep(spec, registry)
    return specs


def run_trials_sequentially(specs: Sequence[SweepSpec], root: Path, registry: Registry, *,
                            evaluation: Mapping[str, Any], device: str = "cpu",
                            echo: Callable[[str], None] = print) -> list[TrialOutcome]:
    """Train and evaluate every trial of ``specs`` in turn under ``root/<sweep id>/<trial id>``."""
    outcomes = []
    for spec in specs:
        trials = spec.trials()
        for i, trial in enumerate(trials, 1):
            run_dir = root / spec.sweep_id / trial.trial_id
            echo(f"  trial {i}/{len(trials)} of {spec.name}: {trial.trial_id} ({spec.steps} steps)")
            started = time.perf_counter()
            status, error, metrics = FINISHED, None, {}
            try:
                if latest_checkpoint_step(run_dir / "checkpoints") != spec.steps:
                    if run_dir.exists() and (run_dir / "config.json").exists():
                        raise GanzooError(f"{run_dir} holds an unfinished run of an earlier attempt",
                                          hint="delete that folder (or the experiment's --out) and run again")
                    config = trial_config(spec, trial, registry, device=device, register=False)
                    prepare_run_dir(run_dir)
                    make_trainer(config, registry, run_dir, progress=False, echo=lambda _: None).run()
                if spec.metrics:
                    subject = subject_from_run(run_dir, device=device, registry=registry)
                    results = evaluate(subject, spec.metrics, registry=registry, **dict(evaluation)).results
                    metrics = {r["metric"]: float(r["value"]) for r in results}
            except GanzooError as exc:  # a diverged trial is a result, not a crash of the experiment
                status, error = FAILED, exc.message
                echo(f"    failed: {exc.message}")
            records = read_metrics(run_dir / LOG_FILE)
            outcomes.append(TrialOutcome(
                sweep_id=spec.sweep_id, trial_id=trial.trial_id, loss=trial.loss, arch=trial.arch,
                dataset=trial.dataset, seed=trial.seed, settings=dict(trial.settings), status=status, error=error,
                model_ref=None, run_dir=run_dir, metrics=metrics, steps=records[-1]["step"] if records else 0,
                wall_time_s=round(time.perf_counter() - started, 3)))
    return outcomes
