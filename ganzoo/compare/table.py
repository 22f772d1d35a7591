"""The comparison as data: which metric and which way is better, one table per architecture with a row per loss
(summary over the finished trials, best and median trial, failed trials, steps, wall time), the ranking, and every
pair of losses tested with Welch's t-test (Holm-corrected) so that pairs that are not different say so.

:func:`compare` refuses what cannot be compared: trials of several data sets, a metric some finished trials lack
or that different trials measured differently (another feature extractor or reference split), no finished trial.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from ganzoo.compare import stats
from ganzoo.compare.outcomes_from_models import newest_results
from ganzoo.errors import GanzooError
from ganzoo.plugin.registry import Registry
from ganzoo.store import ModelStore
from ganzoo.sweep.outcome import FAILED, FINISHED, TrialOutcome

SCHEMA = "ganzoo-comparison/1"
#: The metric compared when none is chosen: the first of these every finished trial has, else the first key they
#: share (in the first trial's order). FID for images, the exact W1 for points: continuous, unlike a mode count.
PREFERRED_METRICS = ("fid", "w1", "kid", "is")


@dataclass(frozen=True)
class Metric:
    """The compared value: its result key, its label (``FID[fashion-cnn]``), which way is better and who says so."""

    key: str
    label: str
    higher_is_better: bool
    direction_source: str
    reference: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "higher_is_better": self.higher_is_better,
                "direction_source": self.direction_source, "reference": self.reference}


@dataclass(frozen=True)
class Trial:
    """A trial with its compared value (None unless finished)."""

    outcome: TrialOutcome
    value: float | None

    def to_dict(self) -> dict[str, Any]:
        o = self.outcome
        return {"sweep_id": o.sweep_id, "trial_id": o.trial_id, "loss": o.loss, "arch": o.arch, "dataset": o.dataset,
                "seed": o.seed, "status": o.status, "value": self.value, "model_ref": o.model_ref, "error": o.error,
                "steps": o.steps, "wall_time_s": o.wall_time_s, "settings": o.settings,
                "run_dir": None if o.run_dir is None else str(o.run_dir)}


@dataclass(frozen=True)
class Row:
    """One loss on one architecture."""

    arch: str
    loss: str
    trials: tuple[Trial, ...]
    summary: stats.Summary | None  # over the finished trials; None when none finished
    best: Trial | None
    median: Trial | None
    rank: int | None = None  # 1 is best; None when nothing finished
    not_different_from: tuple[str, ...] = ()

    @property
    def finished(self) -> list[Trial]:
        return [t for t in self.trials if t.value is not None]

    @property
    def failed(self) -> int:
        return sum(t.outcome.status == FAILED for t in self.trials)

    @property
    def unfinished(self) -> int:
        return sum(t.outcome.status not in (FINISHED, FAILED) for t in self.trials)

    @property
    def steps(self) -> tuple[int, int] | None:
        done = [t.outcome.steps for t in self.finished]
        return (min(done), max(done)) if done else None

    @property
    def wall_time_s(self) -> float | None:
        """Mean wall time of the finished trials that recorded one."""
        times = [t.outcome.wall_time_s for t in self.finished if t.outcome.wall_time_s is not None]
        return stats.mean(times) if times else None

    def to_dict(self) -> dict[str, Any]:
        s = self.summary
        return {
            "arch": self.arch, "loss": self.loss, "rank": self.rank, "trials": len(self.trials),
            "finished": len(self.finished), "failed": self.failed, "unfinished": self.unfinished,
            "n": s.n if s else 0, "mean": s.mean if s else None, "std": s.std if s else None,
            "ci": None if s is None or s.ci_low is None else [s.ci_low, s.ci_high],
            "t_critical": s.t_critical if s else None,
            "best": None if self.best is None else {"trial_id": self.best.outcome.trial_id, "value": self.best.value,
                                                    "model_ref": self.best.outcome.model_ref,
                                                    "seed": self.best.outcome.seed},
            "median": None if self.median is None else {"trial_id": self.median.outcome.trial_id,
                                                        "value": self.median.value,
                                                        "model_ref": self.median.outcome.model_ref,
                                                        "seed": self.median.outcome.seed},
            "steps": None if self.steps is None else list(self.steps), "mean_wall_time_s": self.wall_time_s,
            "not_different_from": list(self.not_different_from),
        }


@dataclass(frozen=True)
class Pair:
    """Two losses on one architecture: Welch's test of their means, Holm-adjusted over the table's pairs."""

    a: str
    b: str
    difference: float  # mean of a minus mean of b
    welch: stats.Welch
    p_holm: float | None
    different: bool  # p_holm < alpha; False when it cannot be tested (fewer than two finished trials)

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "difference": self.difference, "t": self.welch.t, "dof": self.welch.dof,
                "p": self.welch.p, "p_holm": self.p_holm, "different": self.different}


@dataclass(frozen=True)
class Table:
    """The losses of one architecture, best first (losses without a finished trial last)."""

    arch: str
    rows: tuple[Row, ...]
    pairs: tuple[Pair, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"arch": self.arch, "rows": [r.to_dict() for r in self.rows], "pairs": [p.to_dict() for p in self.pairs]}


@dataclass(frozen=True)
class Comparison:
    dataset: str
    metric: Metric
    tables: tuple[Table, ...]
    trials: tuple[Trial, ...]
    sources: tuple[str, ...] = ()
    confidence: float = stats.CONFIDENCE
    alpha: float = stats.ALPHA
    notes: tuple[str, ...] = field(default=())

    def rows(self) -> list[Row]:
        return [row for table in self.tables for row in table.rows]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA, "sources": list(self.sources), "dataset": self.dataset, "metric": self.metric.to_dict(),
            "confidence": self.confidence, "interval": "Student t, n - 1 degrees of freedom",
            "test": "Welch's t-test (two-sided), Holm-Bonferroni over the pairs of each table", "alpha": self.alpha,
            "tables": [t.to_dict() for t in self.tables], "trials": [t.to_dict() for t in self.trials],
            "notes": list(self.notes),
        }


# --- the metric ---------------------------------------------------------------------------------------------------


def _stored(outcomes: Sequence[TrialOutcome], store: ModelStore | None) -> dict[str, dict[str, dict[str, Any]]]:
    """model_ref -> its newest stored result per key, for the finished trials in the store."""
    if store is None:
        return {}
    out = {}
    for o in outcomes:
        if o.status == FINISHED and o.model_ref:
            try:
                out[o.model_ref] = newest_results(store.get(o.model_ref))
            except GanzooError:
                continue  # removed from the store since: its outcome's own values still count
    return out


def choose_metric_key(finished: Sequence[TrialOutcome], wanted: str | None) -> str:
    shared = [k for k in finished[0].metrics if all(k in o.metrics for o in finished)]
    if wanted is not None:
        missing = [o.trial_id for o in finished if wanted not in o.metrics]
        if missing:
            raise GanzooError(
                f"metric {wanted!r} is missing for {len(missing)} of {len(finished)} finished trials "
                f"({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''}): they cannot be compared on it",
                hint=(f"metrics every finished trial has: {', '.join(shared)}" if shared else
                      "score them alike first (`ganzoo eval NAME -m METRIC`)"))
        return wanted
    for key in PREFERRED_METRICS:
        if key in shared:
            return key
    if shared:
        return shared[0]
    have = sorted({k for o in finished for k in o.metrics})
    raise GanzooError("the finished trials share no metric, so they cannot be compared"
                      + (f" (measured: {', '.join(have)})" if have else " (none of them was evaluated)"),
                      hint="evaluate every model with the same metrics (`ganzoo eval NAME`), then compare again")


def direction(key: str, registry: Registry, plugin: str | None = None,
              recorded: bool | None = None) -> tuple[bool, str]:
    """(higher is better, who says so) for result key ``key``: the metric plugin that made it (``plugin``, as the
    store recorded it) or any registered metric that declares the key (:meth:`MetricSpec.directions`); else the
    direction recorded with the stored results."""
    specs = registry.entries("metric")
    if plugin is not None:
        specs = sorted(specs, key=lambda s: plugin not in s.names)
    for spec in specs:
        directions = spec.directions()  # type: ignore[attr-defined]
        if key in directions or (plugin is not None and plugin in spec.names):
            higher = directions.get(key, next(iter(directions.values())))
            return higher, f"metric plugin {spec.name!r}"
    if recorded is not None:
        return recorded, "recorded with the stored results"
    raise GanzooError(f"cannot tell whether a higher or a lower {key!r} is better: no installed metric plugin "
                      "declares it", hint="install the plugin that made it (`ganzoo plugins` lists the installed "
                                          "ones), or compare on another metric with --metric")


def resolve_metric(finished: Sequence[TrialOutcome], wanted: str | None, registry: Registry,
                   stored: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> Metric:
    key = choose_metric_key(finished, wanted)
    results = [stored[o.model_ref][key] for o in finished if o.model_ref in stored and key in stored[o.model_ref]]
    labels = sorted({str(r.get("label", key)) for r in results})
    references = sorted({str(r["reference"]) for r in results if r.get("reference") is not None})
    if len(labels) > 1 or len(references) > 1:
        what = " and ".join(x for x in (", ".join(labels) if len(labels) > 1 else "",
                                        ", ".join(references) if len(references) > 1 else "") if x)
        raise GanzooError(f"metric {key!r} was measured in different ways ({what}): those numbers are not comparable",
                          hint="re-evaluate the models alike (the same extractor and --split), then compare again")
    plugin = next((str(r["plugin"]) for r in results if r.get("plugin")), None)
    recorded = next((bool(r["higher_is_better"]) for r in results if r.get("higher_is_better") is not None), None)
    higher, source = direction(key, registry, plugin, recorded)
    return Metric(key, labels[0] if labels else key, higher, source, references[0] if references else None)


# --- the tables ---------------------------------------------------------------------------------------------------


def _row(arch: str, loss: str, trials: Sequence[Trial], higher: bool) -> Row:
    done = [t for t in trials if t.value is not None]
    if not done:
        return Row(arch, loss, tuple(trials), None, None, None)
    values = [t.value for t in done]
    best, median = stats.best_and_median(values, higher)  # type: ignore[arg-type]
    return Row(arch, loss, tuple(trials), stats.summarize(values), done[best], done[median])  # type: ignore[arg-type]


def rank_table(arch: str, rows: Sequence[Row], higher: bool, alpha: float = stats.ALPHA) -> Table:
    """Rows best first by mean (then by best trial), each with the losses it is not shown to differ from."""
    scored = [r for r in rows if r.summary is not None]
    sign = -1.0 if higher else 1.0
    scored.sort(key=lambda r: (sign * r.summary.mean, sign * r.best.value, r.loss))  # type: ignore[union-attr]
    pairs_of = list(combinations(scored, 2))
    tests = [stats.welch([t.value for t in a.finished], [t.value for t in b.finished])  # type: ignore[misc]
             for a, b in pairs_of]
    adjusted = stats.holm([t.p for t in tests])
    pairs = tuple(Pair(a.loss, b.loss, a.summary.mean - b.summary.mean, test, p,  # type: ignore[union-attr]
                       p is not None and p < alpha)
                  for (a, b), test, p in zip(pairs_of, tests, adjusted, strict=True))
    same: dict[str, list[str]] = {r.loss: [] for r in scored}
    for pair in pairs:
        if not pair.different:
            same[pair.a].append(pair.b)
            same[pair.b].append(pair.a)
    ranked = [Row(r.arch, r.loss, r.trials, r.summary, r.best, r.median, i + 1, tuple(same[r.loss]))
              for i, r in enumerate(scored)]
    unscored = sorted((r for r in rows if r.summary is None), key=lambda r: r.loss)
    return Table(arch, tuple(ranked + unscored), pairs)


def compare(outcomes: Sequence[TrialOutcome], *, registry: Registry, store: ModelStore | None = None,
            metric: str | None = None, dataset: str | None = None, sources: Sequence[str] = ()) -> Comparison:
    """The comparison of ``outcomes`` on ``metric`` (default: see :data:`PREFERRED_METRICS`), optionally only those
    of ``dataset``."""
    if dataset is not None:
        outcomes = [o for o in outcomes if o.dataset == dataset]
        if not outcomes:
            raise GanzooError(f"no trial was trained on {dataset!r}", hint="leave out --dataset, or name another")
    if not outcomes:
        raise GanzooError("no trials to compare", hint="the sweep has none yet: run it with `ganzoo sweep`")
    datasets = sorted({o.dataset for o in outcomes})
    if len(datasets) > 1:
        raise GanzooError(f"these trials were trained on different data sets ({', '.join(datasets)}); scores on "
                          "different data cannot be compared", hint=f"compare one at a time: --dataset {datasets[0]}")
    finished = [o for o in outcomes if o.status == FINISHED]
    if not finished:
        counts = {s: sum(o.status == s for o in outcomes) for s in sorted({o.status for o in outcomes})}
        raise GanzooError(f"no finished trial to compare ({', '.join(f'{n} {s}' for s, n in counts.items())})",
                          hint="let the sweep finish (running the same `ganzoo sweep` command again resumes it)")
    chosen = resolve_metric(finished, metric, registry, _stored(outcomes, store))
    trials = [Trial(o, float(o.metrics[chosen.key]) if o.status == FINISHED else None) for o in outcomes]
    tables = []
    for arch in sorted({o.arch for o in outcomes}):
        losses = sorted({t.outcome.loss for t in trials if t.outcome.arch == arch})
        rows = [_row(arch, loss, [t for t in trials if t.outcome.arch == arch and t.outcome.loss == loss],
                     chosen.higher_is_better) for loss in losses]
        tables.append(rank_table(arch, rows, chosen.higher_is_better))
    notes = []
    if any(r.summary is not None and r.summary.n == 1 for table in tables for r in table.rows):
        notes.append("a loss with one finished trial has no standard deviation or interval, and is never shown to "
                     "differ from another: one seed says nothing about the next")
    return Comparison(datasets[0], chosen, tuple(tables), tuple(trials), tuple(sources), notes=tuple(notes))
