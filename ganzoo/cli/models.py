"""``ganzoo models ...`` and ``ganzoo sample``: the model store from the command line. Thin: parse, call, print."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ganzoo.cli.common import loaded_registry, open_store
from ganzoo.runs.networks import describe_weights
from ganzoo.store import ModelRecord, repair_store
from ganzoo.store.loading import stored_weights
from ganzoo.store.sampling import sample_to_file

models_app = typer.Typer(no_args_is_help=True, help="The model store: every trained model, its card and files.")


@models_app.command("list")
def list_models(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Every stored model version, with its headline metric."""
    records = open_store().list()
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in records], indent=2, default=str))
        return
    if not records:
        typer.echo("no models stored yet: `ganzoo train ARCH LOSS` stores its model when it finishes")
        return
    rows = [(r.ref, r.arch, r.loss, r.dataset, r.created, r.headline or "not evaluated") for r in records]
    header = ("MODEL", "ARCH", "LOSS", "DATA", "CREATED", "METRIC")
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        typer.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _describe(record: ModelRecord, files: dict[str, dict[str, object]]) -> list[str]:
    config = record.config
    training = config.get("training", {})
    plugins = config.get("plugins", {})
    lines = [f"{record.ref}", f"  created:   {record.created}", f"  folder:    {record.path}"]
    for kind, label in (("arch", "arch"), ("loss", "loss"), ("dataset", "data")):
        info = plugins.get(kind) or {}
        provider = f"  [{info.get('distribution')} {info.get('version')}]" if info.get("distribution") else ""
        lines.append(f"  {label + ':':<10} {config[kind]}{provider}")
    lines += [f"  generator: latent {config['latent_dim']} -> {config['data_kind']} {config['shape']}",
              f"  options:   {json.dumps(config['train_config'].get('arch_options', {}), sort_keys=True)}",
              f"  training:  {training.get('steps')} steps on {training.get('device')}, "
              f"{training.get('wall_time_s')} s",
              f"  versions:  ganzoo {config.get('ganzoo_version')}, torch {config.get('torch_version')}"]
    if record.metrics:
        lines.append("  metrics:")
        for m in record.metrics:
            how = ", ".join(f"{k} {m[k]}" for k in ("extractor", "n_samples", "reference") if m.get(k) is not None)
            lines.append(f"    {m['label']} = {m['value']:.4g}" + (f"  ({how})" if how else ""))
    else:
        lines.append("  metrics:   not evaluated yet")
    lines.append("  files:")
    for filename, info in files.items():
        lines.append(f"    {filename:<22} {info['size']:>10} bytes  sha256 {str(info['sha256'])[:16]}...")
    return lines


@models_app.command("show")
def show(ref: str = typer.Argument(..., help="NAME (newest version) or NAME:VERSION"),
         as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Everything about one stored model: config, provenance, metrics, files."""
    store = open_store()
    record = store.get(ref)
    files = store.files(record)
    if as_json:
        typer.echo(json.dumps({**record.to_dict(), "files": files}, indent=2, default=str))
        return
    typer.echo("\n".join(_describe(record, files)))


@models_app.command("card")
def card(ref: str = typer.Argument(..., help="NAME (newest version) or NAME:VERSION")) -> None:
    """Print the model card (README.md, Markdown with YAML front matter)."""
    store = open_store()
    record = store.get(ref)
    typer.echo(store.file(record, "README.md").read_text(encoding="utf-8"), nl=False)


@models_app.command("rm")
def remove(ref: str = typer.Argument(..., help="NAME (every version), NAME:VERSION or NAME:latest"),
           yes: bool = typer.Option(False, "--yes", "-y", help="do not ask for confirmation")) -> None:
    """Remove one version, or every version of a name."""
    store = open_store()
    doomed = store.covered(ref)  # an unknown name or version fails here, with close matches
    if not yes:
        listed = ", ".join(r.ref for r in doomed)
        if not typer.confirm(f"remove {listed}?", default=False):
            typer.echo("nothing removed")
            raise typer.Exit(1)
    for record in store.remove(ref):
        typer.echo(f"removed: {record.ref}")


@models_app.command("export")
def export(ref: str = typer.Argument(..., help="NAME (newest version) or NAME:VERSION"),
           directory: Path = typer.Argument(..., help="a new (or empty) folder")) -> None:
    """Write a self-contained folder (model.safetensors, config.json, README.md, ...; a Hugging Face model repo)."""
    path = open_store().export(ref, directory)
    typer.echo(f"exported: {path}")


@models_app.command("import")
def import_(directory: Path = typer.Argument(..., help="a folder written by `ganzoo models export`, or a run folder"),
            name: str | None = typer.Option(None, "--name", help="store it under this name")) -> None:
    """Store an exported model folder, after checking its config and weights against the installed plugins."""
    record = open_store().import_(directory, name, registry=loaded_registry())
    typer.echo(f"imported: {record.ref}")


@models_app.command("repair")
def repair() -> None:
    """Rebuild the index from the model folders and check every stored file; deletes nothing.

    An index that cannot be read is moved aside (kept as index.sqlite.damaged-TIME) and rebuilt; model folders the
    index does not list are re-indexed from their manifest.json (or, for folders stored by ganzoo 0.1, from their
    config.json and files as found).
    """
    report = repair_store(notify=typer.echo)
    if report.missing or report.damaged:
        raise typer.Exit(1)


@models_app.command("trash")
def trash(empty: bool = typer.Option(False, "--empty", help="delete everything in the trash"),
          yes: bool = typer.Option(False, "--yes", "-y", help="do not ask for confirmation")) -> None:
    """What the store moved aside instead of deleting (crash leftovers, duplicate copies); --empty deletes it."""
    store = open_store()
    entries = store.trash()
    if not entries:
        typer.echo(f"the trash of {store.home} is empty")
        return
    if not empty:
        for entry in entries:
            typer.echo(f"  {entry.name}")
        typer.echo(f"{len(entries)} item(s) in {store.trash_dir}; `ganzoo models trash --empty` deletes them")
        return
    if not yes and not typer.confirm(f"delete {len(entries)} item(s) in {store.trash_dir}?", default=False):
        typer.echo("nothing deleted")
        raise typer.Exit(1)
    typer.echo(f"deleted {len(store.empty_trash())} item(s) from {store.trash_dir}")


def sample(ref: str = typer.Argument(..., help="NAME (newest version) or NAME:VERSION"),
           n: int = typer.Option(64, "--n", "-n", help="number of samples"),
           seed: int = typer.Option(0, "--seed", help="noise seed: the same seed gives the same samples"),
           out: Path = typer.Option(Path("samples.png"), "--out", "-o",
                                    help="NAME.png (grid, or a scatter for 2-D points), NAME.npz or "
                                         "NAME.safetensors (raw array)"),
           device: str = typer.Option("cpu", "--device", help="cpu, cuda, mps or auto"),
           raw: bool = typer.Option(False, "--raw", help="sample the raw generator of a model trained with "
                                    "--set ema=DECAY (default: its averaged generator)")) -> None:
    """Draw samples from a stored model into a picture or an array file (from its averaged generator when it has
    one)."""
    loaded_registry()
    store = open_store()
    record = store.get(ref)
    exact = record.ref  # name -> name:N once, so the version sampled is the version named
    path = sample_to_file(exact, out, n=n, seed=seed, device=device, store=store, raw=raw,
                          echo=typer.echo)
    weights = describe_weights(stored_weights(store, record, raw), record.config.get("train_config", {}).get("ema"))
    typer.echo(f"{n} samples of {exact} (seed {seed}, {weights}): {path}")
