"""Shared parts of the sampling-page tests: tiny real training runs registered into a store in a temporary
folder, and `ganzoo serve` started as a user starts it, in a subprocess."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ganzoo.api import train
from ganzoo.serve.server import free_port
from ganzoo.store import CRITIC_FILE, CURVES_FILE, ModelStore


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
