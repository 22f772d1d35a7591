"""``ganzoo extractor train|list``: the classifier extractors from the command line, added to the ``ganzoo`` command
through the ``register_commands`` hook as any plugin adds commands. Thin: parse, call, print."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import typer

from ganzoo import GanzooError, default_home, hookimpl

extractor_app = typer.Typer(no_args_is_help=True, help="The classifier feature extractors for offline image metrics.")


@hookimpl
def register_commands(cli: typer.Typer) -> None:
    cli.add_typer(extractor_app, name="extractor")


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
    import torch  # here, not at the top: `ganzoo --help` imports this module and must stay quick
    from ganzoo_plugins.extractors import EXTRACTOR_DIR_ENV, train_classifier

    if threads is not None:
        torch.set_num_threads(max(1, threads))
    folder = out if out is not None else default_home() / "extractors"
    command = "ganzoo " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["extractor"] else ""
    result = train_classifier(name, folder, epochs=epochs, seed=seed, command=command, echo=typer.echo)
    meta = result.meta  # print what was written: the sidecar's rounded values, so that both say the same number
    typer.echo(f"{result.name}: test accuracy {100 * meta['test_accuracy']:.2f} % on {meta['n_test']} held-out "
               f"images ({meta['test_split']}), train accuracy {100 * meta['train_accuracy']:.2f} %")
    typer.echo(f"  weights: {result.path} ({meta['bytes'] / 1e6:.2f} MB, sha256 {meta['sha256'][:16]})")
    typer.echo(f"  sidecar: {result.sidecar}")
    typer.echo(f"  use them: {EXTRACTOR_DIR_ENV}={result.path.parent} ganzoo eval ... --extractor {result.name}")


@extractor_app.command("list")
def extractor_list(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """The extractors, where their weights are, and their measured accuracy."""
    from ganzoo_plugins.extractors import CLASSIFIERS, INCEPTION, find_classifier_weights, find_inception_weights

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
