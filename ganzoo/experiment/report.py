"""An experiment's folder: report.md (claim, verdict and the numbers behind it, figures, tables, trials, the exact
command), one PNG per figure, and results.json (the same as data)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ganzoo.compare.figures import save_png
from ganzoo.errors import is_storage_failure, storage_error
from ganzoo.plugin.experiment import Findings, Verdict
from ganzoo.plugin.specs import ExperimentSpec
from ganzoo.runs.files import atomic_write, atomic_write_json

REPORT_FILE, JSON_FILE = "report.md", "results.json"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def report_markdown(spec: ExperimentSpec, facts: dict[str, Any], findings: Findings, verdict: Verdict,
                    pictures: dict[str, Path]) -> str:
    lines = [f"# Experiment `{spec.name}`: {verdict.verdict}", "",
             f"**Claim** ({spec.paper or 'see the description'}): {spec.claim}", "",
             f"**Verdict: {verdict.verdict}.** {verdict.reason}", "",
             f"**Verdict rule** (written before running): {spec.verdict_rule}", "",
             f"Budget `{facts['budget']}`: {spec.budgets.get(facts['budget'], '')}", "",
             f"Command: `{facts['command']}`  ",
             f"Compute time: {facts['wall_time_s']:.1f} s for this command on {facts['machine']}; the trials' own "
             f"wall times sum to {facts['trials_wall_time_s']:.1f} s (with any an earlier run of the command "
             "finished)  ",
             f"ganzoo {facts['ganzoo_version']} (commit {facts['ganzoo_commit'] or 'unknown'}), torch "
             f"{facts['torch_version']}", ""]
    for name, path in pictures.items():
        lines += [f"![{name}]({path.name})", ""]
    for table in findings.tables:
        lines += [table.markdown(), ""]
    lines += ["## Numbers", "", "| name | value |", "|---|---|"]
    lines += [f"| `{k}` | {_number(v)} |" for k, v in findings.numbers.items()]  # code: names hold [ ]
    lines.append("")
    if findings.notes:
        lines += ["## Notes", ""] + [f"- {note}" for note in findings.notes] + [""]
    if facts["trials"]:
        lines += ["## Trials", "", "| trial | status | steps | wall time (s) | metrics |", "|---|---|---|---|---|"]
        for t in facts["trials"]:
            metrics = ", ".join(f"{k} {v:.4g}" for k, v in t["metrics"].items()) or (t["error"] or "-")
            lines.append(f"| {t['trial_id']} | {t['status']} | {t['steps']} | {t['wall_time_s']} | {metrics} |")
        lines.append("")
    return "\n".join(lines)


def _finite(value: Any) -> Any:
    """JSON without NaN/Infinity: a non-finite number is written as the string "inf", "-inf" or "nan"."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def write_experiment(out: Path, spec: ExperimentSpec, facts: dict[str, Any], findings: Findings,
                     verdict: Verdict) -> dict[str, Path]:
    """Write the PNGs, report.md and results.json into ``out``; returns {"report", "json", <figure>: path}."""
    try:
        pictures = {name: save_png(fig, out / f"{name}.png") for name, fig in findings.figures.items()}
        report = atomic_write(out / REPORT_FILE, lambda tmp: Path(tmp).write_text(
            report_markdown(spec, facts, findings, verdict, pictures), encoding="utf-8"))
        data = {**facts, "experiment": spec.name, "claim": spec.claim, "verdict_rule": spec.verdict_rule,
                "verdict": verdict.verdict, "reason": verdict.reason, "numbers": findings.numbers,
                "tables": [t.to_dict() for t in findings.tables], "notes": findings.notes,
                "figures": {k: p.name for k, p in pictures.items()}}
        written = atomic_write_json(out / JSON_FILE, _finite(data))
    except OSError as exc:
        if is_storage_failure(exc):
            raise storage_error(exc, f"writing the experiment's report to {out}", hint="choose another --out") \
                from exc
        raise
    return {"report": report, "json": written, **pictures}
