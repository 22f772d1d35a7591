"""``ganzoo eval`` and ``ganzoo extractor train|list``: thin commands over :mod:`ganzoo.evaluate` and
:mod:`ganzoo.extractors` (parse, call, print)."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import typer


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
    as_json: bool = typer.Option(False, "--json", help="print the results as JSON"),
    save: bool = typer.Option(True, "--save/--no-save", help="record the results (store / run directory)"),
) -> None:
    """Score a stored model (default: the one stored last) or a run with FID/IS/KID/PRC or the toy metrics;
    defaults fit the data type.

    Points: modes, % high quality, reverse KL and exact W1 on 2,500 samples. 28x28 grey images of Fashion-MNIST or
    digits: FID, IS and KID with that data set's classifier (offline). Other images: FID, IS and KID with
    torch-fidelity's InceptionV3 (its weights file must be on the machine).
    """
    from ganzoo import evaluate as engine
    from ganzoo.errors import ConfigError

    if ref is not None and run is not None:
        raise ConfigError("name a stored model or pass --run RUN_DIR, not both",
                          hint="e.g. `ganzoo eval dcgan-wgan-gp-fashion-mnist` or `ganzoo eval --run runs/X`")
    if ref is None and run is None:
        from ganzoo.store import ModelStore

        ref = ModelStore().newest().ref
        typer.echo(f"evaluating {ref}, the model stored last (`ganzoo eval NAME` picks another)", err=True)
    names = [name for flag, name in ((fid, "fid"), (is_, "is"), (kid, "kid"), (prc, "prc")) if flag] + list(metric)
    options = {"extractor": extractor, "n": n, "split": split, "inception_weights": inception_weights, "seed": seed,
               "echo": None if as_json else typer.echo}
    if run is not None:
        evaluation = engine.evaluate_run(run, names or None, save=save, device=device, **options)
    else:
        evaluation = engine.evaluate_model(ref, names or None, save=save, device=device, **options)
    if as_json:
        typer.echo(json.dumps(evaluation.results, indent=2))
        return
    typer.echo(engine.format_table(evaluation.results))
    typer.echo(f"{evaluation.n} samples in {evaluation.seconds:.1f} s"
               + (f"; saved to {evaluation.saved_to}" if evaluation.saved_to else "; not saved (--no-save)"))


extractor_app = typer.Typer(no_args_is_help=True, help="The classifier feature extractors for offline image metrics.")


@extractor_app.command("train")
def extractor_train(
    name: str = typer.Argument(..., help="fashion-cnn or digits-cnn"),
    epochs: int | None = typer.Option(None, help="training epochs (default: 8 for fashion-cnn, 40 for digits-cnn)"),
    out: Path | None = typer.Option(None, "--out", "-o", help="folder for NAME.safetensors + NAME.json "
                                    "(default: GANZOO_HOME/extractors)"),
    seed: int = typer.Option(0, help="random seed"),
    threads: int | None = typer.Option(None, help="CPU threads for torch (default: torch's choice)"),
) -> None:
    """Train a classifier extractor from scratch and report its held-out test accuracy."""
    import torch

    from ganzoo.extractors import EXTRACTOR_DIR_ENV, train_classifier
    from ganzoo.store import default_home

    if threads is not None:
        torch.set_num_threads(max(1, threads))
    folder = out if out is not None else default_home() / "extractors"
    command = "ganzoo " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["extractor"] else ""
    result = train_classifier(name, folder, epochs=epochs, seed=seed, command=command, echo=typer.echo)
    typer.echo(f"{result.name}: test accuracy {100 * result.test_accuracy:.2f} % on {result.meta['n_test']} "
               f"held-out images ({result.meta['test_split']}), train accuracy "
               f"{100 * result.meta['train_accuracy']:.2f} %")
    typer.echo(f"  weights: {result.path} ({result.meta['bytes'] / 1e6:.2f} MB, sha256 {result.meta['sha256'][:16]})")
    typer.echo(f"  sidecar: {result.sidecar}")
    typer.echo(f"  use them: {EXTRACTOR_DIR_ENV}={result.path.parent} ganzoo eval ... --extractor {result.name}")


@extractor_app.command("list")
def extractor_list(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """The extractors, where their weights are, and their measured accuracy."""
    from ganzoo.errors import GanzooError
    from ganzoo.extractors import CLASSIFIERS, INCEPTION, find_classifier_weights, find_inception_weights

    rows = []
    for name, info in CLASSIFIERS.items():
        row = {"name": name, "dataset": info.dataset, "description": info.description}
        try:
            weights = find_classifier_weights(name)
            row.update(weights=str(weights.path), sha256=weights.sha256,
                       test_accuracy=weights.meta.get("test_accuracy"), epochs=weights.meta.get("epochs"))
        except GanzooError as exc:
            row.update(weights=None, error=exc.message)
        rows.append(row)
    inception = {"name": INCEPTION, "dataset": "ImageNet", "description": "torch-fidelity's InceptionV3 (standard)"}
    try:
        inception["weights"] = str(find_inception_weights())
    except GanzooError as exc:
        inception.update(weights=None, error=exc.message)
    rows.append(inception)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        if row.get("weights"):
            acc = row.get("test_accuracy")
            extra = f", test accuracy {100 * acc:.2f} %, sha256 {row['sha256'][:12]}" if acc is not None else ""
            typer.echo(f"{row['name']}: {row['description']}{extra}\n    {row['weights']}")
        else:
            typer.echo(f"{row['name']}: {row['description']}\n    not available: {row['error']}")
