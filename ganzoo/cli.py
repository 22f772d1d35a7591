"""The ``ganzoo`` command. Thin: parse, call :mod:`ganzoo.api`, print. Errors print as a message, not a traceback."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from ganzoo.errors import GanzooError
from ganzoo.registry import KIND_PLURALS
from ganzoo.specs import KINDS

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="ganzoo: a plugin-based GAN zoo. `ganzoo list` shows what is installed.")


def _registry() -> Any:
    from ganzoo.plugins import get_registry

    registry = get_registry()
    for failure in registry.failures:
        typer.secho(f"warning: plugin {failure.name!r} ({failure.distribution}) was not loaded: {failure.error}",
                    err=True, fg="yellow")
    return registry


def _loss_defaults_epilog() -> str:
    """The paper defaults of every installed loss, for `ganzoo train --help`."""
    try:
        from ganzoo.plugins import get_registry

        specs = get_registry().entries("loss")
    except GanzooError:
        return ""
    lines = ["Paper defaults by loss (used unless you pass a flag or --set):\n\n"]
    for spec in specs:
        shown = ", ".join(f"{k}={v}" for k, v in spec.defaults().items() if v is not None)
        lines.append(f"  {spec.name}: {shown}\n\n")
    return "".join(lines)


RESUME_HELP = ("continue this run folder from its newest checkpoint; it keeps its own settings, name and "
               "--no-register: only --steps (more, to extend it), --device (same device type), --quiet may change, "
               "and ARCH, LOSS or any other option, when given, must match the run")


@app.command(epilog=None)
def train(
    arch: str | None = typer.Argument(None, help="architecture name (`ganzoo list --kind arch`); not needed with "
                                      "--resume", show_default=False),
    loss: str | None = typer.Argument(None, help="loss name (`ganzoo list --kind loss`); not needed with --resume",
                                      show_default=False),
    dataset: str | None = typer.Option(None, "--dataset", "-d", help="data set name [default: fashion-mnist]"),
    steps: int | None = typer.Option(None, help="generator steps [default: 1000]; with --resume: the new total"),
    batch_size: int | None = typer.Option(None, "--batch-size", "-b", help="[default: from the loss]"),
    lr: float | None = typer.Option(None, help="learning rate [default: from the loss]"),
    n_critic: int | None = typer.Option(None, "--n-critic", help="critic steps per generator step [default: loss]"),
    seed: int | None = typer.Option(None, help="random seed, 0 to 4294967295 [default: 0]"),
    device: str | None = typer.Option(None, help="auto (cuda, else mps, else cpu), cpu, cuda, mps"),
    out: Path | None = typer.Option(None, "--out", "-o", help="run directory [default: runs/ARCH-LOSS-DATA-TIME]"),
    sample_every: int | None = typer.Option(None, "--sample-every", help="steps between sample grids"),
    checkpoint_every: int | None = typer.Option(None, "--checkpoint-every", help="steps between checkpoints"),
    eval_every: int | None = typer.Option(None, "--eval-every", help="score the generator every K steps into "
                                          "metrics.jsonl and curves.png (0: off)"),
    eval_metric: str | None = typer.Option(None, "--eval-metric", help="metric for --eval-every (default: w1 for "
                                           "points, fid for images)"),
    set_: list[str] = typer.Option([], "--set", "-s", help="key=value: any option of the loss, arch or data set"),
    resume: Path | None = typer.Option(None, "--resume", help=RESUME_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
    name: str | None = typer.Option(None, "--name", help="model-store name [default: ARCH-LOSS-DATASET]"),
    register: bool | None = typer.Option(None, "--register/--no-register", help="store the finished model "
                                         "(ganzoo models) [default: register]", show_default=False),
) -> None:
    """Train ARCH with LOSS, e.g. `ganzoo train dcgan wgan-gp`; or continue a run: `ganzoo train --resume RUN_DIR`."""
    from ganzoo import api

    registry = _registry()
    settings = {"batch_size": batch_size, "lr": lr, "n_critic": n_critic, "seed": seed,
                "sample_every": sample_every, "checkpoint_every": checkpoint_every, "eval_every": eval_every,
                "eval_metric": eval_metric, "name": name, "register": register}
    if resume is not None:
        if out is not None:
            raise GanzooError("--out and --resume both name a run folder", hint=f"leave out --out: the run stays in "
                                                                                f"{resume}")
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
                           **{**settings, "register": register is not False})
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


@app.command("list")
def list_(
    pattern: str | None = typer.Argument(None, help="shell-style pattern, e.g. 'wgan*'"),
    kind: str | None = typer.Option(None, "--kind", "-k", help="loss, arch, dataset or metric"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """Every loss, architecture, data set and metric, with aliases, defaults and provider."""
    if kind is not None and kind not in KINDS:
        raise GanzooError(f"unknown kind {kind!r}", hint=f"choose one of {', '.join(KINDS)}")
    entries = _registry().entries(kind, pattern)
    rows = [{"kind": s.kind, "name": s.name, "aliases": list(s.aliases), "defaults": s.defaults(),
             "description": s.description, "paper": s.paper,
             "provider": {"distribution": s.provider.distribution, "version": s.provider.version,
                          "plugin": s.provider.plugin} if s.provider else None} for s in entries]
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        typer.echo("nothing matches" + (f" {pattern!r}" if pattern else ""))
        return
    current = None
    for row in rows:
        if row["kind"] != current:
            current = row["kind"]
            typer.secho(f"{KIND_PLURALS[current]}:", bold=True)
        aliases = f" (aliases: {', '.join(row['aliases'])})" if row["aliases"] else ""
        provider = row["provider"]
        typer.echo(f"  {row['name']}{aliases}  [{provider['distribution']} {provider['version']}]")
        if row["description"]:
            typer.echo(f"      {row['description']}")
        if row["defaults"]:
            typer.echo("      defaults: " + ", ".join(f"{k}={v}" for k, v in row["defaults"].items()))


@app.command()
def plugins(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Installed plugin distributions with their versions and hooks, and any that failed to load."""
    registry = _registry()
    rows = [{"name": p.name, "distribution": p.distribution, "version": p.version, "hooks": list(p.hooks),
             "builtin": p.builtin} for p in registry.plugins]
    failed = [{"name": f.name, "distribution": f.distribution, "error": f.error} for f in registry.failures]
    if as_json:
        typer.echo(json.dumps({"plugins": rows, "failed": failed}, indent=2))
        return
    for row in rows:
        tag = " (built-in)" if row["builtin"] else ""
        typer.echo(f"{row['distribution']} {row['version']}: {row['name']}{tag}  hooks: {', '.join(row['hooks'])}")
    for row in failed:
        typer.echo(f"FAILED {row['distribution']}: {row['name']}: {row['error']}")


from ganzoo.cli_eval import eval_, extractor_app  # noqa: E402 - evaluation commands live in their own module

app.command("eval")(eval_)
app.add_typer(extractor_app, name="extractor")


from ganzoo.cli_models import models_app, sample  # noqa: E402 - model-store commands live in their own module

app.add_typer(models_app, name="models")
app.command("sample")(sample)


from ganzoo.cli_serve import serve  # noqa: E402 - the sampling page lives in its own module (Gradio loads lazily)

app.command("serve")(serve)


def main() -> None:
    """Entry point: run the app; a GanzooError prints its message and hint and exits with status 2."""
    command = typer.main.get_command(app)
    if "train" in command.commands and "--help" in sys.argv and "train" in sys.argv:  # type: ignore[attr-defined]
        command.commands["train"].epilog = _loss_defaults_epilog()  # type: ignore[attr-defined]
    try:
        command(standalone_mode=True)
    except GanzooError as exc:
        typer.secho(f"error: {exc.message}", err=True, fg="red")
        if exc.hint:
            typer.echo(f"  hint: {exc.hint}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
