"""Conformance of an experiment plugin: a well-formed entry whose experiment declares its runs for every budget.

Running an experiment trains networks, so the kit does not run one; ``ganzoo experiment run NAME --budget tiny`` is
the test of the analysis and the verdict (ganzoo's own test runs each built-in that way)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from ganzoo.plugin.experiment import BUDGETS, Experiment
from ganzoo.plugin.specs import ExperimentSpec
from ganzoo.testing.support import check, fail, validate_spec


def check_experiment(spec: ExperimentSpec) -> None:
    """The entry validates; its factory builds an :class:`Experiment` that has its own ``analyse`` and ``verdict``;
    ``sweeps(budget)`` is, for every budget, a list of sweep values (JSON mappings naming at least a loss)."""
    owner = validate_spec(spec, ExperimentSpec)
    try:
        experiment = spec.factory(**spec.options)
    except Exception as exc:
        fail(owner, f"factory(**options) raised {exc!r}", "the factory must build the experiment from its options")
    check(isinstance(experiment, Experiment), owner, f"factory returned {type(experiment).__name__}",
          "return an instance of a ganzoo.Experiment subclass")
    for method in ("analyse", "verdict"):
        check(getattr(type(experiment), method) is not getattr(Experiment, method), owner,
              f"{method}() is not implemented", f"define {method}() in {type(experiment).__name__}")
    for budget in BUDGETS:
        sweeps = experiment.sweeps(budget)
        check(isinstance(sweeps, list), owner, f"sweeps({budget!r}) returned {type(sweeps).__name__}, not a list",
              "return a list of sweep values ([] if the experiment trains nothing)")
        for values in sweeps:
            check(isinstance(values, Mapping) and "loss" in values, owner,
                  f"sweeps({budget!r}) holds {values!r}, not the values of a sweep file naming its losses",
                  "e.g. {'loss': ['wgan', 'wgan-gp'], 'arch': 'mlp', 'dataset': 'gaussians8', 'steps': 100}")
            try:
                json.dumps(values)
            except (TypeError, ValueError) as exc:
                fail(owner, f"sweeps({budget!r}) is not JSON ({exc})", "use numbers, strings, lists and dicts")
