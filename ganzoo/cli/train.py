"""``ganzoo train``: train ARCH with LOSS, or continue a run folder. Thin: parse, call :mod:`ganzoo.api`, print.

The options for a run's settings are not written out here: they are generated from the fields of
:class:`ganzoo.runs.config.TrainConfig` that declare a flag (its name, short name, type and help), so a setting is
declared once.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import typer

from ganzoo import api
from ganzoo.cli.common import loaded_registry
from ganzoo.errors import GanzooError
from ganzoo.runs.config import FLAGGED
from ganzoo.train import distributed

SET_HELP = ("key=value: any setting (lr=1e-4), or an option of the loss, architecture or data set. A bare option "
            "name (width=32) works when exactly one of the three has it; the prefix (arch.width=32, loss.lambda=5, "
            "dataset.size=32) says which, and is how config.json and model cards record the option. Both set the "
            "same value")
RESUME_HELP = ("continue this run folder from its newest checkpoint; it keeps its own settings, name and "
               "--no-register: only --steps (more, to extend it), --device (same device type), --quiet may change, "
               "and ARCH, LOSS or any other option, when given, must match the run")


#: The options of ``--nproc`` (torch.distributed.run's own), which are not settings of the run.
LAUNCH_OPTIONS = ("nnodes", "node_rank", "rdzv_endpoint", "max_restarts")


def train(arch: str | None, loss: str | None, dataset: str | None, steps: int | None, device: str | None,
          set_: list[str], out: Path | None, resume: Path | None, quiet: bool, nproc: int | None = None,
          nnodes: int | None = None, node_rank: int | None = None, rdzv_endpoint: str | None = None,
          max_restarts: int | None = None, **settings: Any) -> None:
    """Train ARCH with LOSS, e.g. `ganzoo train dcgan wgan-gp`; or continue a run: `ganzoo train --resume RUN_DIR`."""
    registry = loaded_registry()
    launch = {"nnodes": nnodes, "node_rank": node_rank, "rdzv_endpoint": rdzv_endpoint, "max_restarts": max_restarts}
    if nproc is not None:
        distributed.check_launch(nproc=nproc, **{k: v for k, v in launch.items() if k != "node_rank" and v is not None})
        if resume is None:
            planned = _planned(arch, loss, dataset, steps, device, set_, settings, nproc * (nnodes or 1))
            out = out or api.default_run_dir(planned)  # one folder for every rank, and for a restart to find again
        worker = worker_args(arch, loss, dataset, steps, device, set_, out, resume, quiet, settings)
        distributed.launch(worker, nproc=nproc, **{k: v for k, v in launch.items() if v is not None})
        return
    given = [f"--{k.replace('_', '-')}" for k, v in launch.items() if v is not None]
    if given:
        raise GanzooError(f"{', '.join(given)} configure(s) the processes --nproc starts, and --nproc is not given",
                          hint="add --nproc N (processes on this machine), or leave them out")
    if resume is not None:
        if out is not None:
            raise GanzooError("--out and --resume both name a run folder",
                              hint=f"leave out --out: the run stays in {resume}")
        conflicts = api.resume_conflicts(resume, arch=arch, loss=loss, dataset=dataset, sets=set_,
                                         registry=registry, **settings)
        if conflicts:
            raise GanzooError(f"--resume {resume} continues that run as it was started, but you asked for: "
                              + "; ".join(conflicts),
                              hint="leave those out (the run keeps its own settings); only --steps, --device and "
                                   "--quiet may change on resume, or start a new run with `ganzoo train ARCH LOSS`")
        result = api.resume(resume, steps=steps, device=device, progress=not quiet, registry=registry,
                            echo=typer.echo)
    else:
        if arch is None or loss is None:
            raise GanzooError("ganzoo train needs ARCH and LOSS (or --resume RUN_DIR)",
                              hint="e.g. `ganzoo train dcgan wgan-gp`; `ganzoo list` shows every name")
        result = api.train(arch, loss, dataset or api.DEFAULT_DATASET, out=out, sets=set_, progress=not quiet,
                           registry=registry, steps=steps, device=device, echo=typer.echo,
                           **{**settings, "register": settings.get("register") is not False})
    if result.rank:  # torchrun's other ranks: rank 0 reports
        raise typer.Exit(130 if result.interrupted else 0)
    status = "interrupted: checkpoint saved" if result.interrupted else "done"
    last = result.last
    typer.echo(f"{status} at step {result.step}: " + ", ".join(
        f"{k}={last[k]:.4g}" for k in ("critic_loss", "generator_loss", "w_estimate") if last.get(k) is not None))
    typer.echo(f"  run:        {result.run_dir}")
    typer.echo(f"  samples:    {result.samples}")
    typer.echo(f"  curves:     {result.curves}")
    typer.echo(f"  checkpoint: {result.checkpoint}")
    typer.echo(f"  metrics:    {result.run_dir / 'metrics.jsonl'}")
    if result.record is not None:
        typer.echo(f"registered: {result.record.ref}")
    if result.interrupted:
        typer.echo(f"  resume with: ganzoo train --resume {result.run_dir}")
        raise typer.Exit(130)


def _planned(arch: str | None, loss: str | None, dataset: str | None, steps: int | None, device: str | None,
             set_: list[str], settings: dict[str, Any], world_size: int) -> Any:
    """The run ``--nproc`` is about to start, resolved (and checked: names, settings, the batch split) once here
    rather than in every process."""
    if arch is None or loss is None:
        raise GanzooError("ganzoo train needs ARCH and LOSS (or --resume RUN_DIR)",
                          hint="e.g. `ganzoo train --nproc 2 dcgan wgan-gp`; `ganzoo list` shows every name")
    config = api.make_config(arch, loss, dataset or api.DEFAULT_DATASET, sets=set_, registry=loaded_registry(),
                             steps=steps, device=device, **settings)
    config.world_size = world_size
    config.validate()
    return config


def worker_args(arch: str | None, loss: str | None, dataset: str | None, steps: int | None, device: str | None,
                set_: list[str], out: Path | None, resume: Path | None, quiet: bool,
                settings: dict[str, Any]) -> list[str]:
    """The ``ganzoo`` command line every process runs: this one without the launch options."""
    given = {"dataset": dataset, "steps": steps, "device": device, **settings}
    words = ["train", *(name for name in (arch, loss) if name is not None)]
    for field in FLAGGED:
        value, flag = given.get(field.name), field.metadata["flag"]
        if value is None:
            continue
        if "/" in flag:  # --register/--no-register
            on, off = flag.split("/")
            words.append(on if value else off)
        else:
            words += [flag, str(value)]
    words += [word for item in set_ for word in ("--set", item)]
    words += [*(["--out", str(out)] if out is not None else []), *(["--resume", str(resume)] if resume else []),
              *(["--quiet"] if quiet else [])]
    return words


def _parameters() -> list[inspect.Parameter]:
    """ARCH, LOSS, one option per flagged TrainConfig field, and the options that are not settings."""
    def option(name: str, annotation: Any, default: Any) -> inspect.Parameter:
        return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)

    def argument(name: str, help: str) -> inspect.Parameter:
        return inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=str | None,
                                 default=typer.Argument(None, help=help, show_default=False))

    params = [argument("arch", "architecture name (`ganzoo list --kind arch`); not needed with --resume"),
              argument("loss", "loss name (`ganzoo list --kind loss`); not needed with --resume")]
    for field in FLAGGED:
        meta = field.metadata
        declarations = [meta["flag"], *([meta["short"]] if meta["short"] else [])]
        params.append(option(field.name, meta["flag_type"] | None,
                             typer.Option(None, *declarations, help=meta["help"], show_default=False)))
    params += [
        option("set_", list[str], typer.Option([], "--set", "-s", help=SET_HELP)),
        option("out", Path | None, typer.Option(None, "--out", "-o", help="run directory [default: "
                                                "runs/ARCH-LOSS-DATA-TIME]", show_default=False)),
        option("resume", Path | None, typer.Option(None, "--resume", help=RESUME_HELP, show_default=False)),
        option("quiet", bool, typer.Option(False, "--quiet", "-q", help="no progress bar")),
        option("nproc", int | None, typer.Option(None, "--nproc", help="train data-parallel in N processes on this "
                                                 "machine (one per GPU), launched through torch.distributed.run "
                                                 "(as torchrun --nproc-per-node N -m ganzoo train ...); "
                                                 "--batch-size stays the global batch", show_default=False)),
        option("nnodes", int | None, typer.Option(None, "--nnodes", help="with --nproc: machines taking part "
                                                  "(each runs the same command) [default: 1]", show_default=False)),
        option("node_rank", int | None, typer.Option(None, "--node-rank", help="with --nproc: this machine's "
                                                     "number (c10d rendezvous assigns one if left out)",
                                                     show_default=False)),
        option("rdzv_endpoint", str | None, typer.Option(None, "--rdzv-endpoint", help="with --nnodes > 1: "
                                                         "HOST:PORT where the machines meet (c10d)",
                                                         show_default=False)),
        option("max_restarts", int | None, typer.Option(None, "--max-restarts", help="with --nproc: restart every "
                                                        "process from the last checkpoint up to K times when one "
                                                        "fails [default: 0]", show_default=False)),
    ]
    return params


def train_command() -> Any:
    """``train`` with its generated signature, for typer."""
    def command(**kwargs: Any) -> None:
        train(**kwargs)

    params = _parameters()
    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    command.__doc__ = train.__doc__
    command.__name__ = "train"
    return command


def loss_defaults_epilog() -> str:
    """The paper defaults of every installed loss, for `ganzoo train --help`."""
    try:
        specs = loaded_registry().entries("loss")
    except GanzooError:
        return ""
    lines = ["Paper defaults by loss (used unless you pass a flag or --set):\n\n"]
    for spec in specs:
        shown = ", ".join(f"{k}={v}" for k, v in spec.defaults().items() if v is not None)
        lines.append(f"  {spec.name}: {shown}\n\n")
    return "".join(lines)
