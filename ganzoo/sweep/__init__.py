"""Sweeps: many ordinary ganzoo runs over losses, architectures, data sets, seeds and settings, with an equal
budget per loss, run by an executor plugin (``local``, ``ray``), resumable, recorded in a state database per sweep
folder. Readers of a sweep use :func:`load_outcomes` and :class:`TrialOutcome`."""

from ganzoo.sweep.outcome import STATUSES, TrialOutcome, find_sweep, load_outcomes


def __getattr__(name: str) -> object:  # the driver needs torch: imported on first use
    if name in ("run_sweep", "SweepResult"):
        from ganzoo.sweep import run

        return getattr(run, name)
    raise AttributeError(f"module 'ganzoo.sweep' has no attribute {name!r}")


__all__ = ["STATUSES", "SweepResult", "TrialOutcome", "find_sweep", "load_outcomes", "run_sweep"]
