"""Experiments: a paper's claim run as a sweep, analysed into figures, tables and numbers, and judged by a rule
written in advance (``ganzoo experiment run NAME``). The claims themselves are plugins (``register_experiments``);
this package runs them: :func:`run_experiment`."""

from ganzoo.experiment.run import ExperimentResult, run_experiment

__all__ = ["ExperimentResult", "run_experiment"]
