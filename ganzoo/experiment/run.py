"""``ganzoo experiment run NAME``: the experiment's sweeps -> trials -> its analysis -> its verdict -> a folder."""

from __future__ import annotations

import difflib
import os
import platform
import shlex
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ganzoo import __version__
from ganzoo.errors import ConfigError, PluginError, UnknownNameError
from ganzoo.experiment.context import RunContext
from ganzoo.experiment.report import write_experiment
from ganzoo.experiment.trials import run_sweeps, sweep_specs
from ganzoo.plugin.experiment import BUDGETS, Findings, Verdict
from ganzoo.plugin.loading import get_registry
from ganzoo.plugin.registry import Registry
from ganzoo.plugin.specs import ExperimentSpec

DEFAULT_ROOT = Path("experiments")


@dataclass
class ExperimentResult:
    spec: ExperimentSpec
    budget: str
    out: Path
    findings: Findings
    verdict: Verdict
    files: dict[str, Path]
    wall_time_s: float


def find_experiment(name: str, registry: Registry) -> ExperimentSpec:
    """The experiment called ``name``; an unknown one is refused naming the close matches and the list."""
    try:
        return registry.experiment(name)
    except UnknownNameError:
        names = registry.names("experiment")
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.4)
        suggestion = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
        raise UnknownNameError(f"unknown experiment {name!r}",
                               hint=f"{suggestion}the experiments: {', '.join(names) or 'none installed'} "
                                    "(`ganzoo experiment list`)") from None


def check_budget(budget: str) -> str:
    if budget not in BUDGETS:
        close = difflib.get_close_matches(budget, BUDGETS, n=1, cutoff=0.4)
        raise ConfigError(f"unknown budget {budget!r}", hint=(f"did you mean {close[0]!r}? " if close else "")
                          + f"choose one of {', '.join(BUDGETS)}")
    return budget


def run_experiment(name: str, *, budget: str = "small", executor: str = "local",
                   executor_options: Mapping[str, Any] | None = None, out: str | Path | None = None,
                   device: str = "cpu", registry: Registry | None = None,
                   echo: Callable[[str], None] = print) -> ExperimentResult:
    """Run experiment ``name`` at ``budget`` into ``out`` (default ``experiments/NAME-BUDGET``): its sweeps through
    the executor plugin ``executor`` (``local``, ``ray``, ...; ``executor_options`` as ``ganzoo sweep`` takes them),
    then its analysis and verdict."""
    registry = registry or get_registry()
    spec = find_experiment(name, registry)
    check_budget(budget)
    registry.executor(executor)  # an unknown executor is refused (with close matches) before anything runs
    out = Path(out) if out is not None else DEFAULT_ROOT / f"{spec.name}-{budget}"
    experiment = spec.factory(**spec.options)
    specs = sweep_specs(experiment.sweeps(budget), registry)  # every sweep checked before any trial
    started = time.perf_counter()
    echo(f"experiment {spec.name} ({budget}): {sum(len(s.trials()) for s in specs)} trials -> {out}")
    trials = run_sweeps(specs, out / "sweeps", registry, executor=executor, executor_options=executor_options or {},
                        evaluation=experiment.evaluation(budget), device=device, echo=echo)
    context = RunContext(budget, out, trials, registry, echo)
    out.mkdir(parents=True, exist_ok=True)
    findings = experiment.analyse(context)
    verdict = experiment.verdict(findings.numbers)
    if not isinstance(findings, Findings) or not isinstance(verdict, Verdict):
        raise PluginError(f"experiment {spec.name!r} must return Findings from analyse() and a Verdict from "
                          "verdict()")
    wall = time.perf_counter() - started
    facts = _facts(spec, budget, executor, out, wall, trials)
    files = write_experiment(out, spec, facts, findings, verdict)
    return ExperimentResult(spec, budget, out, findings, verdict, files, wall)


def ganzoo_commit() -> str | None:
    """The git commit of the ganzoo checkout running this (with "+changes" if it has uncommitted ones), or None."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short=10", "HEAD"], cwd=here, capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}+changes" if dirty else head or None


def _facts(spec: ExperimentSpec, budget: str, executor: str, out: Path, wall: float, trials: list[Any]) -> dict:
    command = f"ganzoo experiment run {spec.name} --budget {budget} --executor {executor} --out {shlex.quote(str(out))}"
    return {
        "budget": budget, "executor": executor, "command": command, "wall_time_s": round(wall, 2),
        # the trials' own wall times, also of those an earlier run of the same command finished (continuing a
        # finished sweep only analyses it: its wall_time_s is then the analysis alone)
        "trials_wall_time_s": round(sum(t.wall_time_s or 0.0 for t in trials), 2),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}",
        "ganzoo_version": __version__, "ganzoo_commit": ganzoo_commit(), "torch_version": torch.__version__,
        "trials": [{"trial_id": t.trial_id, "loss": t.loss, "arch": t.arch, "dataset": t.dataset, "seed": t.seed,
                    "settings": t.settings, "status": t.status, "error": t.error, "steps": t.steps,
                    "wall_time_s": t.wall_time_s, "metrics": t.metrics, "model_ref": t.model_ref,
                    "run_dir": None if t.run_dir is None else str(t.run_dir)} for t in trials],
    }
