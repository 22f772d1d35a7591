"""Shared parts of the sampling-page and API tests: tiny real training runs registered into a store in a temporary
folder (a module-scoped ``store`` fixture over it), Gradio's file cache in the module's temporary folder, a live
server in a thread over a service that is closed with it, a model loader held at a gate, and `ganzoo serve`
started as a user starts it, in a subprocess."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ganzoo.api import train
from ganzoo.serve.server import free_port, serving
from ganzoo.serve.service import SamplingService
from ganzoo.store import CRITIC_FILE, CURVES_FILE, ModelStore
from ganzoo.store.loading import load_generator

SAMPLES = "api/v1/models/{}/samples"  # the API's samples route, relative to the server's URL
GRADIO_WARNINGS = [  # a module's pytestmark: pandas deprecations raised inside Gradio's queue, not ours
    pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting' is deprecated"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


def quiet(_: str) -> None:
    """Swallow the trainer's messages."""


def make_store(root: Path) -> ModelStore:
    """A store at ``root / 'home'`` holding three models made by real (very short) training runs.

    - ``toy``: mlp + wgan-gp on gaussians8 (2-D points; critic stored);
    - ``digits``: dcgan (width 8) + wgan-gp on scikit-learn's digits (1 x 28 x 28 images);
    - ``toy-bare``: ``toy`` exported and re-imported without its critic weights and curves.png, so the page
      must refuse the critic surface and re-plot the curves from metrics.jsonl.

    The models are trained once per test process and the store copied (its index holds paths relative to its
    home), so every module gets its own store without training again.
    """
    global _TEMPLATE
    if _TEMPLATE is None:
        template = Path(tempfile.mkdtemp(prefix="ganzoo-serve-models-"))
        atexit.register(shutil.rmtree, template, True)
        _train_models(template)
        _TEMPLATE = template / "home"
    shutil.copytree(_TEMPLATE, root / "home")
    return ModelStore(root / "home")


_TEMPLATE: Path | None = None


def _train_models(root: Path) -> ModelStore:
    store = ModelStore(root / "home")
    train("mlp", "wgan-gp", "gaussians8", out=root / "runs" / "toy", sets={"hidden": 32}, steps=4, sample_every=4,
          checkpoint_every=4, progress=False, echo=quiet, name="toy", store=store)
    train("dcgan", "wgan-gp", "digits", out=root / "runs" / "digits", sets={"width": 8}, steps=2, batch_size=16,
          sample_every=2, checkpoint_every=2, progress=False, echo=quiet, name="digits", store=store)
    exported = store.export("toy", root / "export" / "toy")
    (exported / CRITIC_FILE).unlink()
    (exported / CURVES_FILE).unlink()
    store.import_(exported, "toy-bare")
    return store


def wait_until_serving(process: subprocess.Popen, url: str, log: Path, timeout: float = 240.0) -> None:
    """Return once ``url`` answers 200; fail with the server's log if it exits or never answers."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            pytest.fail(f"`ganzoo serve` exited with status {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"`ganzoo serve` did not answer on {url} within {timeout:.0f} s:\n{log.read_text()}")


@contextlib.contextmanager
def serve_command(store: ModelStore, root: Path, *options: str) -> Iterator[str]:
    """`ganzoo serve --port P *options` over ``store`` in a subprocess; yields its URL; stops it with SIGTERM and
    checks that this was a clean stop (status 0) that had printed the URL."""
    port = free_port()
    log = root / f"serve-{port}.log"
    env = {**os.environ, "GANZOO_HOME": str(store.home), "GANZOO_LOAD_PLUGINS": "", "OMP_NUM_THREADS": "1",
           "GRADIO_TEMP_DIR": str(root / "gradio-cache")}
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "ganzoo.cli", "serve", "--port", str(port), *options],
                                   env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_serving(process, url, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0, log.read_text()  # SIGTERM is a clean stop
    assert "open http://127.0.0.1:" in log.read_text()


def store_fixture(name: str) -> Callable[..., ModelStore]:
    """A module-scoped ``store`` fixture: :func:`make_store` in a temporary folder called ``name``. A test module
    assigns it: ``store = store_fixture("api-store")``."""
    @pytest.fixture(scope="module")
    def store(tmp_path_factory: pytest.TempPathFactory) -> ModelStore:
        return make_store(tmp_path_factory.mktemp(name))

    return store


def gradio_cache_fixture() -> Callable[..., Iterator[None]]:
    """A module-scoped autouse fixture putting Gradio's file cache in the module's temporary folder, not the shared
    /tmp/gradio. A test module assigns it: ``gradio_cache = gradio_cache_fixture()``."""
    @pytest.fixture(scope="module", autouse=True)
    def gradio_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("GRADIO_TEMP_DIR", str(tmp_path_factory.mktemp("gradio-cache")))
            yield

    return gradio_cache


def page_client(url: str, directory: Path, **kwargs: Any) -> Any:
    """A ``gradio_client.Client`` of the page at ``url`` (no analytics), downloading into ``directory``."""
    from gradio_client import Client

    return Client(url, verbose=False, analytics_enabled=False, download_files=str(directory), **kwargs)


@contextlib.contextmanager
def live_server(app: Any, service: SamplingService) -> Iterator[dict[str, Any]]:
    """``app`` (a page from ``build_app`` or page and API from ``build_server``, over ``service``) served from a
    thread on a free port of 127.0.0.1; yields ``{"url", "app", "service"}``. ``service`` is closed afterwards,
    also when the server fails to start."""
    try:
        with serving(app) as url:
            yield {"url": url, "app": app, "service": service}
    finally:
        service.close()


class HeldLoader:
    """A model loader (``SamplingService(loader=...)``) whose loads wait until :attr:`gate` is set, so a test can
    fill the queues behind the first request; :attr:`entered` is set once a load has begun."""

    def __init__(self) -> None:
        self.gate, self.entered = threading.Event(), threading.Event()

    def __call__(self, ref: str, **kwargs: Any) -> Any:
        self.entered.set()
        self.gate.wait(60)
        return load_generator(ref, **kwargs)
