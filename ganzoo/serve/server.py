"""One server for the page and the API: a FastAPI app with the API's routes (:mod:`ganzoo.serve.api`) and the Gradio
page (:mod:`ganzoo.serve.app`) mounted at ``/``, over one :class:`~ganzoo.serve.service.SamplingService` (so one
model cache and one batcher), run by uvicorn.

The socket is bound here before uvicorn starts (a port in use is a clear :class:`GanzooError`; port 0 picks a free
one without a race). :func:`run` serves in the foreground (``ganzoo serve``: Ctrl-C or SIGTERM stop it cleanly);
:func:`serving` runs the server in a thread for a ``with`` block (tests, benchmarks). Never a share link, no
analytics, no server-side rendering; 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from ganzoo.errors import GanzooError
from ganzoo.serve import api, validation
from ganzoo.serve.offline import import_gradio
from ganzoo.serve.service import SamplingService
from ganzoo.store import ModelStore

DEFAULT_HOST, DEFAULT_PORT = validation.DEFAULT_HOST, validation.DEFAULT_PORT
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 60.0  # uvicorn's main loop notices should_exit within 0.1 s


def build_server(store: ModelStore | None = None, *, service: SamplingService | None = None, page: Any = None,
                 auth: tuple[str, str] | None = None, cache_size: int = validation.DEFAULT_CACHE_SIZE,
                 max_queue: int = validation.DEFAULT_MAX_QUEUE, concurrency: int = validation.DEFAULT_CONCURRENCY,
                 max_batch: int = validation.DEFAULT_MAX_BATCH, max_wait_ms: float = validation.DEFAULT_MAX_WAIT_MS,
                 queue_size: int = validation.DEFAULT_QUEUE_SIZE, precision: str = "fp32") -> Any:
    """The page and the API over ``store`` (default: ``GANZOO_HOME``) as one FastAPI app, not yet serving.

    ``max_batch``, ``max_wait_ms``, ``queue_size`` and ``concurrency`` configure the batcher
    (:mod:`ganzoo.serve.batching`); ``max_queue`` and ``concurrency`` the page's Gradio queue. Pass ``service`` to
    share one service with the caller (who then closes it; its own batcher settings apply), or ``page``, a page
    made by :func:`~ganzoo.serve.app.build_app`, to serve that page and its service. ``auth`` (user, password)
    puts the page (Gradio's login) and the API (HTTP Basic) behind the same login.
    """
    from fastapi import FastAPI

    import ganzoo
    from ganzoo.serve.app import CSS, build_app

    if page is not None:
        service, owned = page.ganzoo_service, page.ganzoo_owns_service
    else:
        owned = service is None
        if service is None:
            service = SamplingService(store, cache_size=cache_size, batching={
                "max_batch": max_batch, "max_wait_ms": max_wait_ms, "queue_size": queue_size,
                "concurrency": concurrency}, precision=precision)
        page = build_app(service=service, max_queue=max_queue, concurrency=concurrency)
    app = FastAPI(title="ganzoo sampling API", version=ganzoo.__version__, openapi_url=None, docs_url=None,
                  redoc_url=None, description="Samples of the models in a ganzoo store (docs/serving.md).")
    api.install(app, service, auth)
    gr = import_gradio()
    app = gr.mount_gradio_app(app, page, "/", auth=auth, ssr_mode=False, mcp_server=False, pwa=False,
                              enable_monitoring=False, show_error=False, footer_links=["api", "settings"],
                              run_history=False, css=CSS)
    app.state.ganzoo_service, app.state.ganzoo_page, app.state.ganzoo_owns_service = service, page, owned
    return app


def bind(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> socket.socket:
    """A TCP socket bound to ``host:port`` (port 0: a free one), or a GanzooError saying why not."""
    host = validation.host(host)
    port = validation.whole_number(port, "port", 0, 65535)
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise GanzooError(f"cannot serve on {host}:{port}: {exc}", hint="check the --host name") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise GanzooError(f"cannot serve on {host}:{port}: {exc}",
                          hint="the port is probably taken by another server: pass --port N or stop it") from exc
    return sock


def free_port(host: str = DEFAULT_HOST) -> int:
    """A TCP port nothing listens on right now (the OS picks it), for servers started in a subprocess."""
    with contextlib.closing(bind(host, 0)) as probe:
        return int(probe.getsockname()[1])


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def _uvicorn(app: Any) -> Any:
    import uvicorn

    return uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                                         timeout_graceful_shutdown=5))


def run(app: Any, sock: socket.socket) -> None:
    """Serve ``app`` on the bound ``sock`` until Ctrl-C or SIGTERM (a clean stop either way), then free everything."""
    previous = signal.signal(signal.SIGTERM, _interrupt)  # uvicorn re-raises the signal it stopped for
    try:
        _uvicorn(app).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        close(app)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def serving(app: Any, *, host: str = DEFAULT_HOST, port: int = 0, auth: tuple[str, str] | None = None) -> Iterator[str]:
    """Run ``app`` (from :func:`build_server`, or a page from :func:`~ganzoo.serve.app.build_app`, served with the
    API and ``auth``) in a background thread for the ``with`` block, on ``port`` (0: a free one); yields its URL.
    Stopped (and its own service freed, see :func:`close`) when the block ends, also when starting fails."""
    if not hasattr(app, "state"):  # a bare page
        app = build_server(page=app, auth=auth)
    elif auth is not None:
        raise GanzooError("serving(app, auth=...) takes a login only for a bare page",
                          hint="pass auth to build_server instead")
    try:
        sock = bind(host, port)
        server = _uvicorn(app)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="ganzoo-server", daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while not server.started:
                if not thread.is_alive() or time.monotonic() > deadline:
                    raise GanzooError(f"the server on {url_of(sock)} did not start")
                time.sleep(0.02)
            yield url_of(sock)
        finally:
            server.should_exit = True  # uvicorn closes the socket as it shuts down
            thread.join(STOP_TIMEOUT_S)
            if thread.is_alive():
                raise GanzooError(f"the server on {url_of(sock)} did not stop within {STOP_TIMEOUT_S:.0f} s",
                                  hint="its event loop is blocked, or its clock was moved (a patched "
                                       "time.monotonic delays every timer of the loop)")
    finally:
        close(app)


def close(app: Any) -> None:
    """Stop the page's queue; a service the server made itself is freed too (batcher, cached models, temporary
    files), one passed to :func:`build_server` stays the caller's."""
    app.state.ganzoo_page.close(verbose=False)
    if app.state.ganzoo_owns_service:
        app.state.ganzoo_service.close()
