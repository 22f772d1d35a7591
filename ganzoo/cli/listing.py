"""``ganzoo list`` and ``ganzoo plugins``: what is installed, and who provided it."""

from __future__ import annotations

import json
from typing import Any

import typer

from ganzoo.cli.common import loaded_registry
from ganzoo.errors import GanzooError
from ganzoo.plugin.registry import KIND_PLURALS
from ganzoo.plugin.specs import ANY_LOSS, KINDS, DatasetSpec, LossSpec, Spec


def list_(
    pattern: str | None = typer.Argument(None, help="shell-style pattern, e.g. 'wgan*'"),
    kind: str | None = typer.Option(None, "--kind", "-k", help="loss, arch, dataset, metric or executor"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """Every loss, architecture, data set, metric and executor, with aliases, defaults and provider."""
    if kind is not None and kind not in KINDS:
        raise GanzooError(f"unknown kind {kind!r}", hint=f"choose one of {', '.join(KINDS)}")
    entries = loaded_registry().entries(kind, pattern)
    rows = [_row(s) for s in entries]
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
        if row.get("family"):
            typer.echo(f"      family: {row['family']}")
        for family, settings in (row.get("recommended") or {}).items():
            who = "every loss" if family == ANY_LOSS else f"{family!r} losses"
            typer.echo(f"      recommended for {who}: " + ", ".join(f"{k}={v}" for k, v in settings.items()))


def _row(spec: Spec) -> dict[str, Any]:
    """One entry as `ganzoo list --json` shows it: a loss adds its family, a data set its recommendations (by loss
    family, "any" for every loss) and its declared modes."""
    row: dict[str, Any] = {
        "kind": spec.kind, "name": spec.name, "aliases": list(spec.aliases), "defaults": spec.defaults(),
        "description": spec.description, "paper": spec.paper,
        "provider": {"distribution": spec.provider.distribution, "version": spec.provider.version,
                     "plugin": spec.provider.plugin} if spec.provider else None}
    if isinstance(spec, LossSpec):
        row["family"] = spec.family
    if isinstance(spec, DatasetSpec):
        row["recommended"] = spec.recommendations()
    return row


def plugins(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Installed plugin distributions with their versions and hooks, and any that failed to load."""
    registry = loaded_registry()
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
