"""``ganzoo compare``: a thin command over :func:`ganzoo.compare.make.compare_to_folder` (parse, call, print)."""

from __future__ import annotations

from pathlib import Path

import typer

from ganzoo.cli.common import loaded_registry, open_store


def compare(
    sources: list[str] = typer.Argument(..., help="a sweep id or folder, and/or stored models NAME[:VERSION]",
                                        metavar="SWEEP_OR_MODEL"),
    metric: str | None = typer.Option(None, "--metric", "-m", help="result key to compare on, e.g. fid, w1, modes "
                                      "(default: fid, else w1, else the first metric every finished trial has)"),
    dataset: str | None = typer.Option(None, "--dataset", "-d", help="only the trials of this data set"),
    out: Path | None = typer.Option(None, "--out", "-o", help="report folder (default: comparisons/<arguments>)"),
    as_json: bool = typer.Option(False, "--json", help="print the comparison as JSON (comparison.json's content)"),
) -> None:
    """Compare losses over seeds: a table per architecture (mean, std, 95 % Student-t interval, best and median
    trial, failed trials, steps, wall time), the ranking with Welch-tested pairs, the metric's distribution, the
    training curves and the best models' samples side by side; written as report.md + PNGs (+ comparison.json)."""
    from ganzoo.compare.make import compare_to_folder
    from ganzoo.compare.report import comparison_json, dumps, tables_markdown

    store = open_store()
    comparison, files = compare_to_folder(sources, out, metric=metric, dataset=dataset, store=store,
                                          registry=loaded_registry())
    if as_json:
        pictures = {k: v for k, v in files.items() if k not in ("report", "json")}
        typer.echo(dumps(comparison_json(comparison, pictures)))
        return
    typer.echo(tables_markdown(comparison))
    for note in comparison.notes:
        typer.echo(f"note: {note}")
    typer.echo(f"report: {files['report']} (with {', '.join(p.name for k, p in files.items() if k != 'report')})")
