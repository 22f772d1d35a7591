"""The experiment contract: a paper's claim as something anyone can run (``ganzoo experiment run NAME``).

An :class:`Experiment` declares, for each budget, the runs it needs as sweeps (the values a sweep file holds), then
analyses them (:meth:`Experiment.analyse` gets an :class:`ExperimentContext`: the trials, their logs, their networks,
comparisons over seeds) into :class:`Findings` (numbers, figures, tables), and finally judges the claim with
:meth:`Experiment.verdict`, a rule written in advance (the spec's ``verdict_rule``) over the measured numbers only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ganzoo.errors import PluginError

#: ``tiny``: seconds (the tests); ``small``: fits a 2-core CPU (at most about 30 minutes); ``paper``: the papers' steps.
BUDGETS = ("tiny", "small", "paper")
REPRODUCED, PARTLY, NOT_REPRODUCED = "reproduced", "partly", "not reproduced"
VERDICTS = (REPRODUCED, PARTLY, NOT_REPRODUCED)


@dataclass(frozen=True)
class Verdict:
    """The claim's verdict and the measured numbers behind it, in words."""

    verdict: str
    reason: str

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise PluginError(f"verdict {self.verdict!r} is not one of {', '.join(map(repr, VERDICTS))}")

    @classmethod
    def graded(cls, reason: str, *, reproduced: bool, partly: bool) -> Verdict:
        """The three-way rule most claims follow: "reproduced" when every condition holds (``reproduced``), else
        "partly" when some do (``partly``), else "not reproduced"; ``reason`` gives the measured numbers."""
        return cls("reproduced" if reproduced else "partly" if partly else "not reproduced", reason)


@dataclass
class Table:
    """A table of the report: a title, column names and rows of values (numbers are printed with 4 digits)."""

    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]

    def markdown(self) -> str:
        def cell(value: Any) -> str:
            if isinstance(value, float):
                return f"{value:.4g}"
            return "-" if value is None else str(value)

        lines = [f"**{self.title}**", "", "| " + " | ".join(self.columns) + " |",
                 "|" + "|".join("---" for _ in self.columns) + "|"]
        lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in self.rows]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "columns": list(self.columns), "rows": [list(r) for r in self.rows]}


@dataclass
class Findings:
    """What an analysis found: ``numbers`` (the verdict reads only these), ``figures`` (name -> a private matplotlib
    ``Figure``, saved as NAME.png), ``tables`` and ``notes`` (plain sentences for the report)."""

    numbers: dict[str, float | None] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class ExperimentContext(Protocol):
    """What :meth:`Experiment.analyse` receives (ganzoo's runner provides it)."""

    budget: str
    out: Path  # the experiment's folder: an analysis may write extra files here
    trials: Sequence[Any]  # ganzoo.sweep.TrialOutcome of every trial of every sweep, in order
    registry: Any

    def records(self, trial: Any) -> list[dict[str, Any]]:
        """The trial's metrics.jsonl (one record per generator step)."""

    def networks(self, trial: Any) -> tuple[Any, Any]:
        """(generator, critic) of the trial's final checkpoint, in eval mode, on the CPU."""

    def compare(self, trials: Sequence[Any], metric: str, name: str) -> Any:
        """``ganzoo compare`` of ``trials`` on result key ``metric`` (a ``ganzoo.compare`` Comparison: tables over
        seeds, Student-t intervals, Welch's test); its report is written to ``out/name/``."""

    def echo(self, text: str) -> None:
        """Progress for the user."""


class Experiment:
    """Subclass and register with an :class:`~ganzoo.plugin.specs.ExperimentSpec` whose factory returns it."""

    def sweeps(self, budget: str) -> list[dict[str, Any]]:
        """The runs this experiment needs at ``budget``: a list of sweeps, each the values of a sweep file (keys
        ``name``, ``loss``, ``arch``, ``dataset``, ``seeds``, ``steps``, ``metrics``, ``set``, ``loss_set``,
        ``space``, ...). None (the default): the experiment trains nothing through ganzoo's runs."""
        return []

    def evaluation(self, budget: str) -> Mapping[str, Any]:
        """Options of the final evaluation of each trial (``n``: samples, ``extractor``); {}: the defaults."""
        return {}

    def analyse(self, context: ExperimentContext) -> Findings:
        raise NotImplementedError

    def verdict(self, numbers: Mapping[str, float | None]) -> Verdict:
        """The rule written in advance (the spec's ``verdict_rule``), applied to ``Findings.numbers``."""
        raise NotImplementedError
