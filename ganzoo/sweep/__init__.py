"""Sweeps: many ordinary ganzoo runs over losses, architectures, data sets, seeds and settings, with an equal
budget per loss, run by an executor plugin (``local``, ``ray``), resumable, recorded in a state database per sweep
folder. Readers of a sweep use :func:`load_outcomes` and :class:`TrialOutcome`."""

from ganzoo.sweep.outcome import STATUSES, TrialOutcome, load_outcomes

__all__ = ["STATUSES", "TrialOutcome", "load_outcomes"]
