"""``ganzoo experiment list`` and ``ganzoo experiment run NAME``: thin commands over :mod:`ganzoo.experiment`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ganzoo.cli.common import ADDRESS, EXECUTOR, EXECUTOR_OPTION, WORKERS, executor_options, loaded_registry

experiment_app = typer.Typer(no_args_is_help=True, help="The papers' claims as experiments: run one, get a figure, "
                             "a table and a verdict.")


@experiment_app.command("list")
def list_experiments(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Every installed experiment: the claim it tests, its verdict rule and its budgets."""
    specs = loaded_registry().entries("experiment")
    rows = [{"name": s.name, "claim": s.claim, "paper": s.paper, "verdict_rule": s.verdict_rule,
             "budgets": dict(s.budgets), "provider": s.provider.distribution if s.provider else None} for s in specs]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("no experiments installed")
    for row in rows:
        typer.secho(f"{row['name']}  [{row['provider']}]", bold=True)
        typer.echo(f"    claim: {row['claim']}" + (f" ({row['paper']})" if row["paper"] else ""))
        typer.echo(f"    verdict: {row['verdict_rule']}")
        for budget, what in row["budgets"].items():
            typer.echo(f"    --budget {budget}: {what}")


@experiment_app.command("run")
def run(
    name: str = typer.Argument(..., help="experiment name (`ganzoo experiment list`)"),
    budget: str = typer.Option("small", "--budget", help="tiny (seconds), small (a 2-core CPU, <= ~30 min) or paper "
                               "(the papers' steps: a GPU or a cluster)"),
    executor: str = EXECUTOR,
    workers: int | None = WORKERS,
    address: str | None = ADDRESS,
    executor_option: list[str] = EXECUTOR_OPTION,
    out: Path | None = typer.Option(None, "--out", "-o", help="results folder [default: experiments/NAME-BUDGET]"),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:N, mps, auto [default: cpu]"),
) -> None:
    """Run an experiment: its sweep, its analysis and its verdict, written as report.md + PNGs + results.json."""
    from ganzoo.experiment import run_experiment

    result = run_experiment(name, budget=budget, executor=executor,
                            executor_options=executor_options(executor_option, workers, address), out=out,
                            device=device, registry=loaded_registry(), echo=typer.echo)
    typer.echo(f"verdict: {result.verdict.verdict} - {result.verdict.reason}")
    typer.echo(f"report: {result.files['report']} ({result.wall_time_s:.1f} s)")
