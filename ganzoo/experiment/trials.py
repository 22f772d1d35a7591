"""An experiment's sweeps, run through the sweep's driver and executors (:func:`ganzoo.sweep.run_sweep`): every
trial trained, evaluated and stored like any sweep's, each sweep in its own folder under the experiment's, so that
running an experiment again continues its sweeps (finished trials are kept) and only analyses them again."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ganzoo.errors import GanzooError
from ganzoo.plugin.registry import Registry
from ganzoo.sweep.check import check_sweep
from ganzoo.sweep.outcome import TrialOutcome
from ganzoo.sweep.run import run_sweep
from ganzoo.sweep.spec import SweepSpec, sweep_spec


def sweep_specs(values: Sequence[Mapping[str, Any]], registry: Registry) -> list[SweepSpec]:
    """Each sweep's values as a checked :class:`SweepSpec` (refused before any trial of any sweep starts)."""
    specs = [sweep_spec(v, registry) for v in values]
    for spec in specs:
        check_sweep(spec, registry)
    return specs


def run_sweeps(specs: Sequence[SweepSpec], root: Path, registry: Registry, *, executor: str,
               executor_options: Mapping[str, Any], evaluation: Mapping[str, Any], device: str,
               echo: Callable[[str], None] = print) -> list[TrialOutcome]:
    """Run (or continue) every sweep in ``root/<sweep id>`` with ``executor``; the outcomes of all their trials."""
    outcomes: list[TrialOutcome] = []
    for spec in specs:
        result = run_sweep(spec, executor=executor, executor_options=executor_options, out=root / spec.sweep_id,
                           device=device, eval_n=evaluation.get("n"), registry=registry, echo=echo,
                           progress=False)
        if result.interrupted:
            raise GanzooError(f"experiment stopped during sweep {spec.sweep_id}",
                              hint="run the same command again to continue (finished trials are kept)")
        outcomes += result.outcomes
    return outcomes
