"""The comparison written out: ``report.md`` (tables, ranking, pairwise tests, every trial, the method) with its
PNGs, and ``comparison.json`` (the same numbers for machines, schema ``ganzoo-comparison/1``), in one folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ganzoo.compare.figures import save_all
from ganzoo.compare.table import Comparison, Pair, Row, Table
from ganzoo.errors import is_storage_failure, storage_error
from ganzoo.runs.files import atomic_write, atomic_write_json
from ganzoo.store import ModelStore

REPORT_FILE, JSON_FILE = "report.md", "comparison.json"


def number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _trial(row: Row, which: str) -> str:
    trial = getattr(row, which)
    if trial is None:
        return "-"
    where = trial.outcome.model_ref or trial.outcome.trial_id
    return f"{number(trial.value)} (`{where}`, seed {trial.outcome.seed})"


def _steps(row: Row) -> str:
    if row.steps is None:
        return "-"
    low, high = row.steps
    return str(low) if low == high else f"{low}-{high}"


def _interval(row: Row) -> str:
    s = row.summary
    if s is None:
        return "-"
    if s.ci_low is None:
        return "none (n = 1)"
    return f"[{number(s.ci_low)}, {number(s.ci_high)}]"


def table_markdown(table: Table, comparison: Comparison) -> str:
    """One architecture's table, best loss first."""
    level = f"{comparison.confidence:.0%}".replace("%", " %")
    lines = [f"| rank | loss | n | mean | std | {level} CI | best | median | failed | unfinished | steps | "
             "wall time / trial | not different from |",
             "|---:|---|---:|---:|---:|---|---|---|---:|---:|---|---:|---|"]
    for row in table.rows:
        s = row.summary
        wall = "-" if row.wall_time_s is None else f"{row.wall_time_s:.1f} s"
        same = ", ".join(row.not_different_from) if row.rank is not None else "-"
        lines.append(f"| {row.rank or '-'} | {row.loss} | {s.n if s else 0} | {number(s.mean if s else None)} | "
                     f"{number(s.std if s else None)} | {_interval(row)} | {_trial(row, 'best')} | "
                     f"{_trial(row, 'median')} | {row.failed} | {row.unfinished} | {_steps(row)} | {wall} | "
                     f"{same or 'none'} |")
    return "\n".join(lines)


def _pair_line(pair: Pair, alpha: float) -> str:
    w = pair.welch
    if w.p is None:
        verdict = "not tested (a loss with fewer than 2 finished trials)"
    else:
        verdict = f"different (p_Holm < {alpha:g})" if pair.different else "not different"
    return (f"| {pair.a} | {pair.b} | {number(pair.difference)} | {number(w.t)} | {number(w.dof)} | "
            f"{number(w.p)} | {number(pair.p_holm)} | {verdict} |")


def pairs_markdown(table: Table, alpha: float) -> str:
    if not table.pairs:
        return "Only one loss has finished trials: nothing to test."
    lines = ["| loss a | loss b | mean a - mean b | t | dof | p | p (Holm) | verdict |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    return "\n".join(lines + [_pair_line(p, alpha) for p in table.pairs])


def tables_markdown(comparison: Comparison) -> str:
    """Every table with its pairwise tests (what ``ganzoo compare`` prints)."""
    m = comparison.metric
    parts = []
    for table in comparison.tables:
        better = "higher" if m.higher_is_better else "lower"
        parts += [f"## {table.arch} on {comparison.dataset}: {m.label}, {better} is better", "",
                  table_markdown(table, comparison), "", "Pairwise tests (Welch's t, Holm-corrected):", "",
                  pairs_markdown(table, comparison.alpha), ""]
    return "\n".join(parts)


def varying_settings(comparison: Comparison) -> list[str]:
    """The setting names whose values differ between trials (a search space's dimensions), sorted."""
    keys = sorted({k for t in comparison.trials for k in t.outcome.settings})
    return [k for k in keys if len({json.dumps(t.outcome.settings.get(k), sort_keys=True, default=str)
                                    for t in comparison.trials}) > 1]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def trials_markdown(comparison: Comparison) -> str:
    """Every trial, with the settings that differ between trials."""
    varying = varying_settings(comparison)
    lines = ["| trial | arch | loss | seed | settings | status | value | steps | wall time | model | error |",
             "|---|---|---|---:|---|---|---:|---:|---:|---|---|"]
    for t in comparison.trials:
        o = t.outcome
        wall = "-" if o.wall_time_s is None else f"{o.wall_time_s:.1f} s"
        settings = ", ".join(f"{k}={json.dumps(o.settings[k], default=str)}" for k in varying if k in o.settings)
        lines.append(f"| {o.trial_id} | {o.arch} | {o.loss} | {o.seed} | {_cell(settings) or '-'} | {o.status} | "
                     f"{number(t.value)} | {o.steps} | {wall} | {o.model_ref or '-'} | {_cell(o.error or '')} |")
    return "\n".join(lines)


def method_markdown(comparison: Comparison) -> str:
    m = comparison.metric
    level = f"{comparison.confidence:.0%}".replace("%", " %")
    return "\n".join([
        f"- Metric: `{m.key}` ({m.label}{', against ' + m.reference if m.reference else ''}); "
        f"{'higher' if m.higher_is_better else 'lower'} is better ({m.direction_source}).",
        f"- A row summarises a loss's finished trials: mean, sample standard deviation (n - 1) and the {level} "
        "interval mean +- t(0.975, n - 1) s / sqrt(n) (Student t). With one finished trial there is no interval.",
        "- Best and median are real trials (for an even count, the worse of the two middle ones).",
        "- Ranking: by mean. Two losses are *different* when Welch's two-sided t-test (unequal variances, "
        f"Welch-Satterthwaite degrees of freedom) rejects equal means at {comparison.alpha:g} after Holm's "
        "correction over all pairs of the table; otherwise they are listed as *not different from* each other. "
        "A loss with fewer than two finished trials is never called different. Formulas: docs/science.md.",
        "- Failed and unfinished trials have no value; they are counted, not imputed.",
    ])


def report_markdown(comparison: Comparison, pictures: dict[str, Path]) -> str:
    sources = ", ".join(f"`{s}`" for s in comparison.sources) or "the given trials"
    parts = [f"# Comparison: {sources}", "",
             f"{len(comparison.trials)} trials on `{comparison.dataset}`, compared on **{comparison.metric.label}** "
             f"({'higher' if comparison.metric.higher_is_better else 'lower'} is better).", "",
             tables_markdown(comparison)]
    parts += [f"Note: {note}." for note in comparison.notes]
    captions = {"distribution": f"{comparison.metric.label} per loss: box plot over the finished trials, each trial a "
                                "point", "curves": "W estimate and the metric over training, every trial",
                "samples": "the best model of each loss, samples from the same noise"}
    for key, path in pictures.items():
        caption = captions[key]
        parts += ["", f"### {caption[:1].upper()}{caption[1:]}", "", f"![{caption}]({path.name})"]
    parts += ["", "## Every trial", "", trials_markdown(comparison), "", "## Method", "", method_markdown(comparison),
              ""]
    return "\n".join(parts)


def comparison_json(comparison: Comparison, pictures: dict[str, Path] | None = None) -> dict[str, Any]:
    data = comparison.to_dict()
    data["figures"] = {k: p.name for k, p in (pictures or {}).items()}
    return data


def write_report(comparison: Comparison, out: str | Path, store: ModelStore | None = None) -> dict[str, Path]:
    """Write report.md, comparison.json and the PNGs into ``out``; returns {"report", "json", <picture>: path}."""
    out = Path(out)
    try:
        pictures = save_all(comparison, out, store)
        report = atomic_write(out / REPORT_FILE,
                              lambda tmp: Path(tmp).write_text(report_markdown(comparison, pictures),
                                                               encoding="utf-8"))
        data = atomic_write_json(out / JSON_FILE, comparison_json(comparison, pictures))
    except OSError as exc:
        if is_storage_failure(exc):
            raise storage_error(exc, f"writing the comparison report to {out}", hint="choose another --out") from exc
        raise
    return {"report": report, "json": data, **pictures}


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, allow_nan=False)

