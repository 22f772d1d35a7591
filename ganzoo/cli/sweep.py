"""``ganzoo sweep``: many runs over losses, architectures, data sets, seeds and settings, from flags or a sweep file
(TOML, docs/sweeps.md), on this machine or a Ray cluster. Thin: parse, call :func:`ganzoo.sweep.run.run_sweep`, print.
Running the same command again continues the sweep."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ganzoo.cli.common import (
    ADDRESS,
    EXECUTOR,
    EXECUTOR_OPTION,
    WORKERS,
    executor_options,
    loaded_registry,
    open_store,
)
from ganzoo.errors import GanzooError
from ganzoo.runs.config import parse_sets
from ganzoo.sweep.spec import read_sweep_file


def sweep(
    file: Path | None = typer.Argument(None, help="a sweep file (TOML, see docs/sweeps.md); flags given as well "
                                                  "replace its values", show_default=False),
    loss: str | None = typer.Option(None, "--loss", help="losses: NAME,NAME, a pattern ('wgan*') or all"),
    arch: str | None = typer.Option(None, "--arch", help="architectures: NAME,NAME, a pattern or all"),
    dataset: str | None = typer.Option(None, "--dataset", "-d", help="data sets: NAME,NAME [default: fashion-mnist]"),
    seeds: str | None = typer.Option(None, "--seeds", help="seeds: 0-4, 0,1,2 or 3 [default: 0]"),
    steps: int | None = typer.Option(None, "--steps", help="generator steps of every trial [default: 1000]"),
    set_: list[str] = typer.Option([], "--set", help="key=value for every trial (as ganzoo train --set); "
                                                     "repeatable"),
    metric: list[str] = typer.Option([], "--metric", "-m", help="metric to score every trial with; repeatable "
                                                                "[default: the data set's default metrics]"),
    name: str | None = typer.Option(None, "--name", help="the sweep's name (its id is NAME-HASH) [default: the "
                                                         "file's name, else sweep]"),
    executor: str = EXECUTOR,
    workers: int | None = WORKERS,
    address: str | None = ADDRESS,
    executor_option: list[str] = EXECUTOR_OPTION,
    out: Path | None = typer.Option(None, "--out", help="the sweep folder [default: sweeps/SWEEP_ID]"),
    device: str = typer.Option("auto", "--device", help="device of every trial: auto, cpu, cuda, ..."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="run failed trials again"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="print only the summary"),
) -> None:
    """Run a sweep, e.g. `ganzoo sweep --arch mlp --loss all --dataset gaussians8 --seeds 0-2 --steps 300`, or
    `ganzoo sweep FILE.toml`. Every trial is an ordinary run, stored in the model store with the sweep's id; the
    same command again continues a stopped sweep."""
    from ganzoo.sweep.run import run_sweep

    values: dict[str, Any] = read_sweep_file(file) if file is not None else {}
    given = {"loss": loss, "arch": arch, "dataset": dataset, "seeds": seeds, "steps": steps, "name": name,
             "metrics": list(metric) or None}
    values.update({k: v for k, v in given.items() if v is not None})
    if set_:
        values["set"] = {**values.get("set", {}), **parse_sets(set_)}
    if file is None and (loss is None or arch is None):
        raise GanzooError("ganzoo sweep needs --loss and --arch (or a sweep file)",
                          hint="e.g. `ganzoo sweep --arch mlp --loss all --dataset gaussians8 --seeds 0-2`")
    options = executor_options(executor_option, workers, address)
    registry = loaded_registry()
    result = run_sweep(values, executor=executor, executor_options=options, out=out, device=device,
                       retry_failed=retry_failed, registry=registry, store=open_store(), echo=typer.echo,
                       progress=not quiet)
    typer.echo(f"  sweep:   {result.sweep_id}")
    typer.echo(f"  folder:  {result.folder}")
    typer.echo(f"  trials:  {result.count('finished')} finished, {result.count('failed')} failed, "
               f"{len(result.outcomes) - result.count('finished') - result.count('failed')} left")
    for outcome in result.outcomes:
        if outcome.status == "failed":
            typer.echo(f"  failed:  {outcome.trial_id}: {(outcome.error or '').splitlines()[0]}")
    if result.interrupted:
        raise typer.Exit(130)

