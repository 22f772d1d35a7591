"""The sweep's driver: check everything, then hand the trials still to do to an executor, record what comes back in
the sweep's state and the model store, and print progress.

Running the same sweep again continues it: finished trials are not trained again, trials that were running resume
from their checkpoints, failed ones stay failed (``retry_failed`` runs them again). The model store stores a run
once, so a trial registered just before the driver died is not stored twice.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganzoo.errors import GanzooError
from ganzoo.plugin.loading import get_registry
from ganzoo.plugin.registry import Registry
from ganzoo.runs.files import atomic_write_json
from ganzoo.store import ModelStore
from ganzoo.sweep.check import check_sweep
from ganzoo.sweep.executor import DEFAULT_EXECUTOR, make_executor
from ganzoo.sweep.outcome import FAILED, FINISHED, PENDING, TrialOutcome, load_outcomes, sweep_pointer
from ganzoo.sweep.progress import SweepProgress
from ganzoo.sweep.spec import SweepSpec, read_sweep_file, sweep_spec
from ganzoo.sweep.state import SweepState, TrialRow, lock_sweep
from ganzoo.sweep.trial import INTERRUPTED, TrialReport, TrialTask, run_trial, unpack

SWEEPS_DIR = Path("sweeps")  # the default parent of sweep folders, like runs/ for ganzoo train
TICK_S = 30.0  # seconds between per-trial progress lines


@dataclass
class SweepResult:
    """What a call of :func:`run_sweep` did: the sweep, its folder, every trial's outcome, and whether it stopped
    early (Ctrl-C: run it again to continue)."""

    sweep_id: str
    folder: Path
    outcomes: list[TrialOutcome]
    interrupted: bool

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)


def model_name(spec: SweepSpec, trial_id: str, position: int) -> str:
    """The model-store name of a trial: ``SWEEP_ID.TRIAL_ID`` (``SWEEP_ID.tN`` when that is too long)."""
    name = f"{spec.sweep_id}.{trial_id}"
    return name if len(name) <= 100 else f"{spec.sweep_id}.t{position}"


def resolve_spec(sweep: SweepSpec | Mapping[str, Any] | str | Path, registry: Registry) -> SweepSpec:
    """A spec from a :class:`SweepSpec`, the values of one, or a sweep file."""
    if isinstance(sweep, SweepSpec):
        return sweep
    if isinstance(sweep, (str, Path)):
        return sweep_spec(read_sweep_file(sweep), registry)
    return sweep_spec(sweep, registry)


def run_sweep(sweep: SweepSpec | Mapping[str, Any] | str | Path, *, executor: str = DEFAULT_EXECUTOR,
              executor_options: Mapping[str, Any] | None = None, out: str | Path | None = None,
              device: str = "auto", eval_n: int | None = None, retry_failed: bool = False,
              registry: Registry | None = None, store: ModelStore | None = None,
              echo: Callable[[str], None] = print, progress: bool = True) -> SweepResult:
    """Run (or continue) ``sweep``: a :class:`SweepSpec`, its values (see :func:`ganzoo.sweep.spec.sweep_spec`) or
    a sweep file. ``out``: the sweep folder (default ``sweeps/SWEEP_ID``). ``executor`` names an executor plugin,
    ``executor_options`` its options (e.g. ``{"workers": 2}``). Everything is checked before any trial starts."""
    registry = registry or get_registry()
    runner = make_executor(executor, executor_options or {}, registry)
    spec = resolve_spec(sweep, registry)
    check_sweep(spec, registry)
    store = store or ModelStore()
    folder = Path(out) if out is not None else SWEEPS_DIR / spec.sweep_id
    with lock_sweep(folder):
        state = SweepState.create(folder, spec)
        atomic_write_json(sweep_pointer(store.home, spec.sweep_id), {"folder": str(folder.resolve())})
        state.recover(retry_failed=retry_failed)
        rows = state.rows()
        todo = [row for row in rows if row.status == PENDING]
        counts = {status: sum(r.status == status for r in rows) for status in (FINISHED, FAILED)}
        echo(f"sweep {spec.sweep_id}: {len(rows)} trials ({counts[FINISHED]} finished, {counts[FAILED]} failed, "
             f"{len(todo)} to run) in {folder}; {runner.describe()}")
        tasks = [TrialTask(spec.sweep_id, _trial_of(row), spec.steps, str(row.run_dir.resolve()),
                           str(folder.resolve()), spec.metrics, device, eval_n) for row in todo]
        driver = _Driver(spec, state, store, registry, echo,
                         SweepProgress(len(rows), counts[FINISHED], counts[FAILED]), progress)
        interrupted = False
        try:
            runner.run(tasks, run_trial, driver)
        except KeyboardInterrupt:
            interrupted = True
            echo(f"sweep {spec.sweep_id} stopped: run the same command again to continue it (finished trials are "
                 "kept, the others resume from their checkpoints)")
        finally:
            driver.close()
    outcomes = load_outcomes(folder, store=store)
    result = SweepResult(spec.sweep_id, folder, outcomes, interrupted)
    if not interrupted:
        echo(f"sweep {spec.sweep_id} done: {result.count(FINISHED)} finished, {result.count(FAILED)} failed; "
             f"`ganzoo compare {spec.sweep_id}` puts them side by side")
    return result


def _trial_of(row: TrialRow) -> Any:
    from ganzoo.sweep.spec import Trial

    return Trial(row.trial_id, row.position, row.loss, row.arch, row.dataset, row.seed, row.settings, row.draw)


class _Driver:
    """The executor's events: each one recorded in the state (and the store) at once, and shown."""

    def __init__(self, spec: SweepSpec, state: SweepState, store: ModelStore, registry: Registry,
                 echo: Callable[[str], None], progress: SweepProgress, show: bool) -> None:
        self.spec, self.state, self.store, self.registry = spec, state, store, registry
        self.echo, self.progress, self.show = echo, progress, show
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, daemon=True) if show else None
        if self._ticker:
            self._ticker.start()

    def _say(self, text: str) -> None:
        if self.show:
            with self._lock:
                self.echo(f"{self.progress.line()} {text}")

    def _tick(self) -> None:
        while not self._stop.wait(TICK_S):
            with self._lock:
                line = self.progress.trials_line(self.spec.steps)
            if line:
                self._say(line)

    def close(self) -> None:
        self._stop.set()

    # --- ExecutorEvents ------------------------------------------------------------------------------------

    def started(self, task: TrialTask, where: str) -> None:
        self.state.started(task.trial_id, where)
        with self._lock:
            self.progress.start(task.trial_id, Path(task.run_dir))
        self._say(f"started {task.trial_id} on {where}")

    def finished(self, task: TrialTask, report: TrialReport) -> None:
        if report.status == INTERRUPTED:
            self.state.pending(task.trial_id, steps=report.steps, resumed_from=report.resumed_from)
            with self._lock:
                self.progress.stopped(task.trial_id)
            self._say(f"stopped {task.trial_id} at step {report.steps} (it resumes from its checkpoint)")
            return
        if report.status != FINISHED:
            self._failed(task, report.error or "failed", report.steps)
            return
        try:
            ref, metrics = self._store(task, report)
        except GanzooError as exc:
            self._failed(task, f"trained, but not stored: {exc.message}", report.steps)
            return
        self.state.finished(task.trial_id, model_ref=ref, steps=report.steps, wall_time_s=report.wall_time_s,
                            metrics=metrics, resumed_from=report.resumed_from)
        with self._lock:
            self.progress.done(task.trial_id, report.results)
        scores = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items())
        resumed = f", resumed from step {report.resumed_from}" if report.resumed_from else ""
        self._say(f"finished {task.trial_id} -> {ref} ({scores}{resumed})")

    def lost(self, task: TrialTask, error: str) -> None:
        self._failed(task, error, 0)

    def _failed(self, task: TrialTask, error: str, steps: int) -> None:
        self.state.failed(task.trial_id, error, steps=steps)
        with self._lock:
            self.progress.fail(task.trial_id)
        self._say(f"FAILED {task.trial_id}: {error.splitlines()[0] if error else 'failed'}")

    def _store(self, task: TrialTask, report: TrialReport) -> tuple[str, dict[str, float]]:
        """Register the trial's run in the model store with its sweep labels (once), with its results."""
        run_dir = Path(task.run_dir)
        if report.archive is not None:  # it ran on a machine that does not share this sweep folder
            unpack(report.archive, run_dir)
        trial = task.trial
        labels = {"sweep": self.spec.sweep_id, "trial": trial.trial_id, "seed": trial.seed,
                  "settings": json.loads(json.dumps(trial.settings))}
        record = self.store.register(run_dir, model_name(self.spec, trial.trial_id, trial.position),
                                     registry=self.registry, labels=labels)
        if report.results and not record.metrics:
            record = self.store.add_metrics(record.ref, report.results)
        return record.ref, {r["metric"]: float(r["value"]) for r in (record.metrics or report.results)}
