"""The ``ganzoo`` command: one typer app assembled from the command modules (one per command group) and from the
plugins' ``register_commands`` hook. A :class:`~ganzoo.errors.GanzooError` prints its message and hint, exit 2.

Plugins' commands are added when a command name is not a built-in one, or when the command list is shown
(``ganzoo --help``): a built-in command runs without waiting for every plugin to load.
"""

from __future__ import annotations

import sys

import click
import typer
from typer.core import TyperGroup

from ganzoo.cli import listing, models, serve, sweep, train
from ganzoo.cli.common import loaded_registry, new_command
from ganzoo.cli.compare import compare
from ganzoo.cli.eval import eval_
from ganzoo.cli.experiment import experiment_app
from ganzoo.errors import DuplicateNameError, GanzooError


class PluginCommands(TyperGroup):
    """The root command group: built-in commands, then those plugins register (loaded once, on first need)."""

    _plugins_added = False

    def _add_plugin_commands(self) -> None:
        if self._plugins_added:
            return
        self._plugins_added = True
        for provider, register in loaded_registry().command_hooks:
            group = typer.Typer()
            try:
                register(cli=group)
                added = typer.main.get_group(group).commands
            except Exception as exc:  # a plugin whose commands fail to build must not take the CLI down
                typer.secho(f"warning: plugin {provider.plugin!r} ({provider.distribution}) could not add its "
                            f"commands: {exc!r}", err=True, fg="yellow")
                continue
            for name, command in added.items():
                if name in self.commands:
                    raise DuplicateNameError(f"plugin {provider.plugin!r} ({provider.distribution}) adds the command "
                                             f"{name!r}, which ganzoo or another plugin already has",
                                             hint="uninstall one of them, or restrict loading with "
                                                  "GANZOO_LOAD_PLUGINS=dist1,dist2")
                self.add_command(command, name)

    def invoke(self, ctx: click.Context) -> object:
        new_command()
        return super().invoke(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            self._add_plugin_commands()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_plugin_commands()
        return super().list_commands(ctx)


app = typer.Typer(cls=PluginCommands, add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None, help="ganzoo: a plugin-based GAN zoo. `ganzoo list` shows what is installed.")
app.command("train")(train.train_command())
app.command("list")(listing.list_)
app.command("plugins")(listing.plugins)
app.command("eval")(eval_)
app.add_typer(models.models_app, name="models")
app.command("sample")(models.sample)
app.command("serve")(serve.serve)
app.command("compare")(compare)
app.add_typer(experiment_app, name="experiment")
app.command("sweep")(sweep.sweep)


def main() -> None:
    """Entry point: run the app; a GanzooError prints its message and hint and exits with status 2."""
    try:
        command = typer.main.get_command(app)
        if "train" in sys.argv and "--help" in sys.argv:
            command.commands["train"].epilog = train.loss_defaults_epilog()  # type: ignore[attr-defined]
        command(standalone_mode=True)
    except GanzooError as exc:
        typer.secho(f"error: {exc.message}", err=True, fg="red")
        if exc.hint:
            typer.echo(f"  hint: {exc.hint}", err=True)
        sys.exit(2)
