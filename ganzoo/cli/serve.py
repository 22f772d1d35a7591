"""``ganzoo serve``: the sampling page and API over the model store. Thin: check the options, build the server,
run it.

Gradio is imported only when the command runs (about 10 s), never by ``ganzoo --help`` or ``import ganzoo``.
"""

from __future__ import annotations

import gc
import os

import typer

from ganzoo.serve import validation


def serve(
    host: str = typer.Option(validation.DEFAULT_HOST, "--host", help="address to bind; 127.0.0.1 = this machine only, "
                             "0.0.0.0 = every network interface"),
    port: int = typer.Option(validation.DEFAULT_PORT, "--port", "-p", help="TCP port"),
    auth: str | None = typer.Option(None, "--auth", help="USER:PASS: ask for this login before showing the page "
                                    "(and on every API call, as HTTP Basic)"),
    cache_size: int = typer.Option(validation.DEFAULT_CACHE_SIZE, "--cache-size",
                                   help="generators (and critics) kept loaded (LRU)"),
    max_queue: int = typer.Option(validation.DEFAULT_MAX_QUEUE, "--max-queue",
                                  help="page requests waiting in Gradio's queue beyond which the page answers busy"),
    concurrency: int = typer.Option(validation.DEFAULT_CONCURRENCY, "--concurrency",
                                    help="requests (or joined batches) computed at the same time"),
    max_batch: int = typer.Option(validation.DEFAULT_MAX_BATCH, "--max-batch",
                                  help="samples one forward pass may join from concurrent requests (1: no batching)"),
    max_wait_ms: float = typer.Option(validation.DEFAULT_MAX_WAIT_MS, "--max-wait-ms",
                                      help="opt-in linger: how long the last free compute slot waits for more "
                                           "requests of the same model (0: never; batches then form only from "
                                           "requests that queued while every slot was busy)"),
    queue_size: int = typer.Option(validation.DEFAULT_QUEUE_SIZE, "--queue-size",
                                   help="sample requests waiting for a forward pass beyond which the server answers "
                                        "busy (HTTP 429)"),
    precision: str = typer.Option("fp32", "--precision", help="arithmetic of sampling: fp32, or bf16 (autocast; "
                                  "faster on CPUs with AMX / AVX-512 BF16 and on GPUs)"),
) -> None:
    """Serve a sampling page and API for the models in the store: http://127.0.0.1:7860 by default."""
    host = validation.host(host)
    port = validation.whole_number(port, "--port", 1, 65535)
    credentials = validation.auth_pair(auth) if auth is not None else None
    validation.whole_number(cache_size, "--cache-size", 1, validation.MAX_CACHE)
    validation.whole_number(max_queue, "--max-queue", 1, validation.MAX_QUEUE)
    validation.whole_number(concurrency, "--concurrency", 1, validation.MAX_CONCURRENCY)
    validation.whole_number(max_batch, "--max-batch", 1, validation.MAX_BATCH)
    validation.real_number(max_wait_ms, "--max-wait-ms", 0, validation.MAX_WAIT_MS)
    validation.whole_number(queue_size, "--queue-size", 1, validation.MAX_QUEUE)
    import torch

    from ganzoo.runs.precision import check_precision

    check_precision(precision, torch.device("cpu"))  # the server samples on the CPU
    if not validation.is_loopback(host):
        typer.secho(f"warning: serving on {host}: anyone who can reach this machine on port {port} can use the page"
                    + ("" if credentials else "; consider --auth USER:PASS"), err=True, fg="yellow")
    from ganzoo.serve.server import bind, build_server, run, url_of

    sock = bind(host, port)  # before the slow imports: a taken port fails at once
    typer.echo("ganzoo serve: loading Gradio (takes a few seconds)...", err=True)
    import torch

    from ganzoo.runs.allocator import keep_freed_memory

    # `concurrency` batches compute at once: split the cores between them instead of oversubscribing
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // concurrency))
    keep_freed_memory()  # forward passes reuse freed memory instead of faulting it in again (docs/serving.md)
    app = build_server(auth=credentials, cache_size=cache_size, max_queue=max_queue, concurrency=concurrency,
                       max_batch=max_batch, max_wait_ms=max_wait_ms, queue_size=queue_size, precision=precision)
    service = app.state.ganzoo_service
    count = len(service.store.list())
    typer.echo(f"ganzoo serve: {count} model version(s) in the store at {service.store.home}")
    if not count:
        typer.echo("  the store is empty: `ganzoo train ...` stores a model when it finishes, "
                   "`ganzoo models import DIR` adds an exported one; the Distances tab works without models")
    url = url_of(sock)
    # what start-up made (Gradio, FastAPI, torch: some 330,000 objects) lives as long as the server; frozen, the
    # garbage collector's full passes while serving skip it instead of walking it for 200 ms (docs/serving.md)
    gc.freeze()
    typer.echo(f"ganzoo serve: open {url}  (API: {url}api/v1/models, schema {url}api/v1/openapi.json; "
               "see docs/serving.md; Ctrl-C stops)")
    run(app, sock)
    # the server has stopped and freed everything; the process ends next. Its last garbage collection over every
    # Gradio, FastAPI and torch object took 2-3 s after Ctrl-C (docs/serving.md): frozen objects are skipped.
    gc.freeze()
