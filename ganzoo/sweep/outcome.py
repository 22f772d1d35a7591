"""What a sweep's trial came to: :class:`TrialOutcome`, and :func:`load_outcomes`, the way every reader of a sweep
(``ganzoo compare``, the sampling page, experiments) gets its trials.

This interface is stable: readers code against it, the sweep's state database behind it may change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganzoo.errors import GanzooError, UnknownNameError
from ganzoo.sweep.state import FAILED, FINISHED, PENDING, RUNNING, STATE_FILE, STATUSES, SweepState

__all__ = ["FAILED", "FINISHED", "PENDING", "RUNNING", "STATUSES", "TrialOutcome", "find_sweep", "load_outcomes",
           "sweep_pointer"]

if TYPE_CHECKING:
    from ganzoo.store import ModelStore



@dataclass(frozen=True)
class TrialOutcome:
    """One trial of a sweep (or one model compared outside a sweep, with ``sweep_id`` None)."""

    sweep_id: str | None  # None for models compared outside a sweep
    trial_id: str  # stable id of the trial within the sweep (e.g. "wgan-gp.dcgan.s0.t3")
    loss: str
    arch: str
    dataset: str
    seed: int
    settings: dict[str, Any]  # the trial's own settings beyond loss/arch/dataset/seed (lr, n_critic, --set values, ...)
    status: str  # "finished" | "failed" | "running" | "pending"
    error: str | None  # the error of a failed trial (message; divergence says "diverged at step N")
    model_ref: str | None  # NAME:VERSION in the model store when finished and registered
    run_dir: Path | None  # the trial's run folder (metrics.jsonl, samples, checkpoints)
    metrics: dict[str, float]  # final evaluation results, key = the metric's result key as the store records it
    steps: int  # generator steps trained
    wall_time_s: float | None


def sweep_pointer(home: Path, sweep_id: str) -> Path:
    """Where the store at ``home`` remembers the folder of sweep ``sweep_id`` (so the id alone finds it)."""
    return Path(home) / "sweeps" / f"{sweep_id}.json"


def find_sweep(sweep: str | Path, home: Path | None = None) -> Path:
    """The folder of ``sweep``: a sweep folder, or a sweep id (looked up in ``GANZOO_HOME/sweeps/``, then in
    ``./sweeps/``)."""
    from ganzoo.store.records import default_home

    given = Path(sweep)
    if (given / STATE_FILE).is_file():
        return given
    pointer = sweep_pointer(home or default_home(), str(sweep))
    if pointer.is_file():
        try:
            folder = Path(json.loads(pointer.read_text(encoding="utf-8"))["folder"])
        except (OSError, ValueError, KeyError, TypeError):
            folder = None
        if folder is not None and (folder / STATE_FILE).is_file():
            return folder
    local = Path("sweeps") / str(sweep)
    if (local / STATE_FILE).is_file():
        return local
    raise GanzooError(f"unknown sweep {str(sweep)!r}",
                      hint="give the id `ganzoo sweep` printed or the sweep's folder (its --out)")


def load_outcomes(sweep: str | Path, *, store: ModelStore | None = None) -> list[TrialOutcome]:
    """Every trial of ``sweep`` (a sweep id, or the sweep's folder), in the sweep's trial order.

    ``store`` is the model store the finished trials were registered in (default: ``GANZOO_HOME``'s); a finished
    trial's metrics are the store's current results of its model (its evaluation when the sweep ran, or later
    ones), or those the sweep recorded if the model is no longer stored.
    Raises :class:`~ganzoo.errors.GanzooError` for a sweep that does not exist.
    """
    folder = find_sweep(sweep, store.home if store is not None else None)
    state = SweepState.open(folder)
    sweep_id = state.sweep_id
    rows = state.rows()
    if store is None and any(r.model_ref for r in rows):
        from ganzoo.store import ModelStore

        store = ModelStore()
    outcomes = []
    for row in rows:
        metrics = dict(row.metrics)
        if row.model_ref and store is not None:
            try:
                record = store.get(row.model_ref)
            except UnknownNameError:
                pass
            else:
                metrics = {r["metric"]: float(r["value"]) for r in record.metrics} or metrics
        outcomes.append(TrialOutcome(sweep_id, row.trial_id, row.loss, row.arch, row.dataset, row.seed,
                                     dict(row.settings), row.status, row.error, row.model_ref, row.run_dir, metrics,
                                     row.steps, row.wall_time_s))
    return outcomes
