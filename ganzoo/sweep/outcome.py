"""What a sweep's trial came to: :class:`TrialOutcome`, and :func:`load_outcomes`, the way every reader of a sweep
(``ganzoo compare``, the sampling page, experiments) gets its trials.

This interface is stable: readers code against it, the sweep's state database behind it may change.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganzoo.errors import GanzooError

if TYPE_CHECKING:
    from ganzoo.store import ModelStore

#: The states a trial can be in.
FINISHED, FAILED, RUNNING, PENDING = "finished", "failed", "running", "pending"
STATUSES = (FINISHED, FAILED, RUNNING, PENDING)


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


def load_outcomes(sweep: str | Path, *, store: ModelStore | None = None) -> list[TrialOutcome]:
    """Every trial of ``sweep`` (a sweep id, or the sweep's folder), in the sweep's trial order.

    ``store`` is the model store the finished trials were registered in (default: ``GANZOO_HOME``'s).
    Raises :class:`~ganzoo.errors.GanzooError` for a sweep that does not exist.
    """
    raise GanzooError(f"unknown sweep {str(sweep)!r}",
                      "give the id `ganzoo sweep` printed or the sweep's folder (its --out)")
