"""``ganzoo serve``: the sampling page over the model store. Thin: check the options, build the page, launch it.

Gradio is imported only when the command runs (about 10 s), never by ``ganzoo --help`` or ``import ganzoo``.
"""

from __future__ import annotations

import os
import signal

import typer

from ganzoo.serve import validation


def serve(
    host: str = typer.Option(validation.DEFAULT_HOST, "--host", help="address to bind; 127.0.0.1 = this machine only, "
                             "0.0.0.0 = every network interface"),
    port: int = typer.Option(validation.DEFAULT_PORT, "--port", "-p", help="TCP port"),
    auth: str | None = typer.Option(None, "--auth", help="USER:PASS: ask for this login before showing the page"),
    cache_size: int = typer.Option(validation.DEFAULT_CACHE_SIZE, "--cache-size",
                                   help="generators (and critics) kept loaded (LRU)"),
    max_queue: int = typer.Option(validation.DEFAULT_MAX_QUEUE, "--max-queue",
                                  help="waiting requests beyond which the page answers busy"),
    concurrency: int = typer.Option(validation.DEFAULT_CONCURRENCY, "--concurrency",
                                    help="requests computed at the same time"),
) -> None:
    """Serve a sampling page (and its API) for the models in the store: http://127.0.0.1:7860 by default."""
    host = validation.host(host)
    port = validation.whole_number(port, "--port", 1, 65535)
    credentials = validation.auth_pair(auth) if auth is not None else None
    validation.whole_number(cache_size, "--cache-size", 1, validation.MAX_CACHE)
    validation.whole_number(max_queue, "--max-queue", 1, validation.MAX_QUEUE)
    validation.whole_number(concurrency, "--concurrency", 1, validation.MAX_CONCURRENCY)
    if not validation.is_loopback(host):
        typer.secho(f"warning: serving on {host}: anyone who can reach this machine on port {port} can use the page"
                    + ("" if credentials else "; consider --auth USER:PASS"), err=True, fg="yellow")
    typer.echo("ganzoo serve: loading Gradio (takes a few seconds)...", err=True)
    from ganzoo.serve.app import build_app, serving

    app = build_app(cache_size=cache_size, max_queue=max_queue, concurrency=concurrency)
    import torch

    # `concurrency` requests compute at once: split the cores between them instead of oversubscribing
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // concurrency))
    service = app.ganzoo_service
    count = len(service.store.list())
    typer.echo(f"ganzoo serve: {count} model version(s) in the store at {service.store.home}")
    if not count:
        typer.echo("  the store is empty: `ganzoo train ...` stores a model when it finishes, "
                   "`ganzoo models import DIR` adds an exported one; the Distances tab works without models")
    with serving(app, host=host, port=port, auth=credentials) as url:
        typer.echo(f"ganzoo serve: open {url}  (API: gradio_client, see docs/serving.md; Ctrl-C stops)")
        signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops as cleanly as Ctrl-C
        app.block_thread()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
