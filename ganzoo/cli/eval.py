"""``ganzoo eval``: a thin command over :func:`ganzoo.api.evaluate_model` and :mod:`ganzoo.eval.engine` (parse,
call, print)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ganzoo import api
from ganzoo.cli.common import loaded_registry, open_store
from ganzoo.errors import ConfigError
from ganzoo.eval import engine


def eval_(
    ref: str | None = typer.Argument(None, help="stored model NAME or NAME:VERSION (`ganzoo models list`); "
                                     "default: the model stored last"),
    run: Path | None = typer.Option(None, "--run", help="evaluate a `ganzoo train` run directory instead (its newest "
                                    "checkpoint; results go to RUN_DIR/results.json)"),
    fid: bool = typer.Option(False, "--fid", help="Frechet distance (lower is better)"),
    is_: bool = typer.Option(False, "--is", help="Inception score of the extractor's classes (higher is better)"),
    kid: bool = typer.Option(False, "--kid", help="kernel distance (lower is better)"),
    prc: bool = typer.Option(False, "--prc", help="precision / recall (higher is better)"),
    metric: list[str] = typer.Option([], "--metric", "-m", help="any registered metric, e.g. modes, w1 (repeatable)"),
    extractor: str | None = typer.Option(None, "--extractor", "-e", help="fashion-cnn, digits-cnn or inception "
                                         "(default: the data set's classifier for 28x28 grey data, else inception)"),
    n: int | None = typer.Option(None, "--n", help="generated samples (default: 10000 images, 2500 points)"),
    split: str | None = typer.Option(None, "--split", help="reference split: test or train (default: test)"),
    inception_weights: Path | None = typer.Option(None, "--inception-weights", help="InceptionV3 weights file "
                                                  "(torch-fidelity's .pth) for offline machines"),
    seed: int = typer.Option(0, help="seed of the generator's noise"),
    device: str = typer.Option("cpu", help="device for the generator: cpu, auto, cuda, mps"),
    raw: bool = typer.Option(False, "--raw", help="score the raw generator of a model trained with --set ema=DECAY "
                             "(default: its averaged generator)"),
    as_json: bool = typer.Option(False, "--json", help="print the results as JSON"),
    save: bool = typer.Option(True, "--save/--no-save", help="record the results (store / run directory)"),
) -> None:
    """Score a stored model (default: the one stored last) or a run with FID/IS/KID/PRC or the toy metrics;
    defaults fit the data type.

    Points: modes, % high quality, reverse KL and exact W1 on 2,500 samples. 28x28 grey images of Fashion-MNIST or
    digits: FID, IS and KID with that data set's classifier (offline). Other images: FID, IS and KID with
    torch-fidelity's InceptionV3 (its weights file must be on the machine).
    """
    if ref is not None and run is not None:
        raise ConfigError("name a stored model or pass --run RUN_DIR, not both",
                          hint="e.g. `ganzoo eval dcgan-wgan-gp-fashion-mnist` or `ganzoo eval --run runs/X`")
    if ref is None and run is None:
        ref = open_store().newest().ref
        typer.echo(f"evaluating {ref}, the model stored last (`ganzoo eval NAME` picks another)", err=True)
    registry = loaded_registry()  # warns about any plugin that failed to load (its metric would be "unknown")
    names = [name for flag, name in ((fid, "fid"), (is_, "is"), (kid, "kid"), (prc, "prc")) if flag] + list(metric)
    options = {"extractor": extractor, "n": n, "split": split, "inception_weights": inception_weights, "seed": seed,
               "echo": None if as_json else typer.echo, "raw": raw}
    if run is not None:
        evaluation = engine.evaluate_run(run, names or None, save=save, device=device, registry=registry,
                                         **options)
    else:
        evaluation = api.evaluate_model(ref, names or None, save=save, device=device, registry=registry, **options)
    if as_json:
        for note in evaluation.notes:
            typer.echo(f"note: {note}", err=True)
        typer.echo(json.dumps(evaluation.results, indent=2))
        return
    typer.echo(engine.format_table(evaluation.results))
    typer.echo(f"{evaluation.n} samples in {evaluation.seconds:.1f} s"
               + (f"; saved to {evaluation.saved_to}" if evaluation.saved_to else "; not saved (--no-save)"))
