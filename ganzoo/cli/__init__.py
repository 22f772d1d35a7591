"""The ``ganzoo`` command line: :data:`app` (typer) and :func:`main` (the console script). One module per command
group: :mod:`.train`, :mod:`.listing` (list, plugins), :mod:`.eval`, :mod:`.models` (models ..., sample),
:mod:`.serve`; plugins add theirs through the ``register_commands`` hook."""

from ganzoo.cli.app import app, main

__all__ = ["app", "main"]
