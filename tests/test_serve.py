"""The sampling page's API, called with gradio_client against a real server started in this module (free port).

The models are real: tiny training runs registered into a store in a temporary folder (tests/serve_support.py).
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import numpy as np
import pytest
from gradio_client.exceptions import AppError
from PIL import Image
from serve_support import (
    GRADIO_WARNINGS,
    HeldLoader,
    gradio_cache_fixture,
    live_server,
    page_client,
    serve_command,
    store_fixture,
)

from ganzoo.errors import GanzooError
from ganzoo.runs.plots import save_image_grid
from ganzoo.serve import service as service_module
from ganzoo.serve.app import ENDPOINTS, build_app
from ganzoo.serve.server import serving
from ganzoo.serve.service import OUTPUT_MAX_AGE_S, OUTPUT_SWEEP_EVERY_S, SamplingService
from ganzoo.serve.validation import is_loopback
from ganzoo.store import CURVES_FILE, LOG_FILE
from ganzoo.store.loading import load_generator

pytestmark = GRADIO_WARNINGS
DOCS = Path(__file__).resolve().parents[1] / "docs" / "serving.md"
PNG = b"\x89PNG\r\n\x1a\n"


def pixels(path: str | Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


gradio_cache = gradio_cache_fixture()
store = store_fixture("serve-store")


class _OutboundGuard:
    """Refuses (and records) every TCP connection to a non-loopback address while installed."""

    def __init__(self) -> None:
        self.attempts: list[tuple] = []

    def install(self, patch: pytest.MonkeyPatch) -> None:
        real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

        def guarded(real):
            def connect(sock, address):
                if sock.family in (socket.AF_INET, socket.AF_INET6) and not is_loopback(str(address[0])):
                    self.attempts.append(address)
                    raise OSError(f"test: outbound connection to {address} refused")
                return real(sock, address)
            return connect

        patch.setattr(socket.socket, "connect", guarded(real_connect))
        patch.setattr(socket.socket, "connect_ex", guarded(real_connect_ex))


@pytest.fixture(scope="module")
def server(store, tmp_path_factory):
    """The page over ``store`` served from a thread; outbound connections are refused and recorded throughout."""
    guard = _OutboundGuard()
    with pytest.MonkeyPatch.context() as patch:
        guard.install(patch)
        service = SamplingService(store, cache_size=2)
        with live_server(build_app(service=service), service) as live:
            yield {**live, "outbound": guard.attempts}


@pytest.fixture(scope="module")
def client(server, tmp_path_factory):
    return page_client(server["url"], tmp_path_factory.mktemp("downloads"))


def test_every_action_is_a_named_endpoint_and_documented(client):
    named = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert named == {f"/{name}" for name in ENDPOINTS}
    text = DOCS.read_text(encoding="utf-8")
    for name in ENDPOINTS:
        assert f'api_name="/{name}"' in text, f"docs/serving.md does not document /{name}"


@pytest.mark.parametrize(("model", "n", "size"), [("digits", 64, (242, 242)), ("digits:1", 10, (92, 122)),
                                                  ("digits", 1, (28, 28)), ("toy", 200, (500, 500))])
def test_generate_returns_a_png_of_the_right_size(client, model, n, size):
    path = client.predict(model, 0, n, api_name="/generate")
    assert Path(path).read_bytes()[:8] == PNG
    # images: a grid of 28 px pictures with 2 px padding (one picture alone: no padding); points: a 5 x 5 in scatter
    assert Image.open(path).size == size


def test_generate_draws_the_stored_generator_with_the_seed(client, store, tmp_path):
    served = pixels(client.predict("digits", 7, 4, api_name="/generate"))
    samples = load_generator("digits", store=store).sample(4, seed=7)
    assert np.array_equal(served, pixels(save_image_grid(samples, tmp_path / "expected.png")))
    assert np.array_equal(served, pixels(client.predict("digits", 7, 4, api_name="/generate")))
    other = load_generator("digits", store=store).sample(4, seed=8)
    assert not np.array_equal(served, pixels(save_image_grid(other, tmp_path / "other.png")))


def test_interpolation_returns_frames_from_seed_a_to_seed_b(client):
    strip_path, gif_path = client.predict("digits", 3, 5, 6, api_name="/interpolate")
    strip = pixels(strip_path)
    assert strip.shape[:2] == (116, 6 * 114 + 2)  # 6 frames of 28 px enlarged x4, 2 px gaps
    gif = Image.open(gif_path)
    assert gif.n_frames == 10 and gif.size == (112, 112)  # forward and back: 2 * 6 - 2 pictures

    def frame(i: int) -> np.ndarray:
        x = 2 + i * 114
        return strip[2:114, x:x + 112]

    for i, seed in ((0, 3), (5, 5)):  # the ends are the seeds' own samples
        single = pixels(client.predict("digits", seed, 1, api_name="/generate"))
        enlarged = np.repeat(np.repeat(single, 4, axis=0), 4, axis=1)
        assert np.abs(frame(i) - enlarged).max() <= 1  # the grid and the frames round [-1, 1] to bytes apiece
    assert not np.array_equal(frame(0), frame(5))


def test_interpolation_of_a_2d_model_moves_the_point_cloud(client):
    strip_path, gif_path = client.predict("toy", 0, 1, 3, api_name="/interpolate")
    assert Image.open(strip_path).size == (3 * 182 + 2, 184)
    assert Image.open(gif_path).n_frames == 4


@pytest.mark.parametrize(("endpoint", "args", "words"), [
    ("/generate", ("digits", 0, 0), "n must be a whole number from 1 to 256, got 0"),
    ("/generate", ("digits", 0, 10_000), "n must be a whole number from 1 to 256, got 10000"),
    ("/generate", ("digits", 0, 2.5), "n must be a whole number from 1 to 256, got 2.5"),
    ("/generate", ("digits", 0, "64"), "n must be a whole number from 1 to 256, got '64'"),
    ("/generate", ("digits", -1, 4), "seed must be a whole number from 0 to 4294967295, got -1"),
    ("/generate", ("nope", 0, 4), "no model called 'nope' in the store"),
    ("/generate", ("toi", 0, 4), "did you mean 'toy'"),
    ("/generate", ("digits:9", 0, 4), "model 'digits' has no version 9"),
    ("/generate", ("/etc/passwd", 0, 4), "looks like a file path; this page loads models from the store only"),
    ("/generate", ("../home/models/toy/1", 0, 4), "looks like a file path"),
    ("/generate", ("", 0, 4), "no model chosen"),
    ("/generate", ("Toy!", 0, 4), "invalid model name"),
    ("/interpolate", ("digits", 0, 1, 1), "frames must be a whole number from 2 to 32, got 1"),
    ("/interpolate", ("digits", 0, 1, 500), "frames must be a whole number from 2 to 32, got 500"),
    ("/model_info", ("/tmp/model",), "looks like a file path"),
    ("/curves", ("nope",), "no model called 'nope'"),
    ("/critic_surface", ("digits", 0, 16), "the critic surface is drawn for 2-D toy models only"),
    ("/critic_surface", ("toy-bare", 0, 16), "stored without critic weights"),
    ("/critic_surface", ("toy", 0, 0), "n must be a whole number from 1 to 256"),
    ("/distances", (1.5,), "theta must be a number from -1 to 1, got 1.5"),
    ("/distances", ("far",), "theta must be a number from -1 to 1, got 'far'"),
])
def test_bad_inputs_get_clear_errors(client, endpoint, args, words):
    with pytest.raises(AppError) as caught:
        client.predict(*args, api_name=endpoint)
    message = str(caught.value)
    assert words in message, message
    assert "Traceback" not in message and "verbose error reporting" not in message


def test_generators_are_loaded_once_and_the_cache_is_bounded(client, server):
    service = server["service"]
    client.predict("digits", 0, 8, api_name="/generate")
    loads = service.generators.loads
    for seed in range(4):
        client.predict("digits", seed, 16, api_name="/generate")
    client.predict("digits", 0, 1, 3, api_name="/interpolate")
    assert service.generators.loads == loads  # no weight reload per request
    for model in ("toy", "toy-bare", "digits"):
        client.predict(model, 0, 8, api_name="/generate")
    assert len(service.generators) == 2 and service.generators.keys() == ["toy-bare:1", "digits:1"]
    assert service.generators.loads == loads + 2 and service.generators.evictions >= 1  # toy, toy-bare; digits kept
    client.predict("toy", 0, 8, api_name="/generate")  # evicted above, so loaded again
    assert service.generators.loads == loads + 3


def test_list_models_labels_and_headline_metric(client, store):
    rows = {row["ref"]: row for row in client.predict(api_name="/list_models")}
    assert set(rows) == {"digits:1", "toy:1", "toy-bare:1"}
    assert rows["toy:1"]["label"] == "toy:1: mlp + wgan-gp on gaussians8, not evaluated"
    store.add_metrics("digits", [{"metric": "fid", "label": "FID[digits-cnn]", "value": 41.2, "n_samples": 500,
                                  "extractor": "digits-cnn", "reference": "digits/test", "higher_is_better": False}])
    rows = {row["ref"]: row for row in client.predict(api_name="/list_models")}
    assert rows["digits:1"]["label"] == "digits:1: dcgan + wgan-gp on digits, FID[digits-cnn] 41.2"


def test_model_info_shows_the_card_and_a_summary(client):
    card, info = client.predict("toy", api_name="/model_info")
    assert card.lstrip().startswith("# toy:1") and "gaussians8" in card
    assert "library_name" not in card and "](samples.png)" not in card  # front matter and dead links removed
    assert info["ref"] == "toy:1" and info["data_kind"] == "points" and info["shape"] == [2]
    assert info["has_critic"] is True and info["latent_dim"] == 2 and info["generator"] == "raw generator"
    assert client.predict("toy-bare", api_name="/model_info")[1]["has_critic"] is False


def test_curves_come_from_the_store_or_are_replotted_from_the_log(client, store):
    stored = store.file(store.get("toy"), CURVES_FILE)
    assert Path(client.predict("toy", api_name="/curves")).read_bytes() == stored.read_bytes()
    assert CURVES_FILE not in store.files(store.get("toy-bare")) and LOG_FILE in store.files(store.get("toy-bare"))
    replotted = client.predict("toy-bare", api_name="/curves")
    assert np.array_equal(pixels(replotted), pixels(stored))  # the same log plotted the way training plotted it


def test_critic_surface_of_a_2d_model(client):
    image = pixels(client.predict("toy", 0, 128, api_name="/critic_surface"))
    assert image.shape == (540, 640, 3) and image.std() > 10


def test_distances_endpoint_values(client):
    path, values = client.predict(0.3, api_name="/distances")
    assert Image.open(path).size == (810, 540)
    assert values["distances"] == {"W": 0.3, "JS": pytest.approx(0.6931, abs=1e-4), "KL": "inf", "TV": 1.0}
    assert values["gradients"] == {"W": 1.0, "JS": 0.0, "KL": None, "TV": 0.0}
    assert values["W_from_samples"] == pytest.approx(0.3, abs=0.05)
    assert client.predict(0, api_name="/distances")[1]["distances"] == {"W": 0, "JS": 0, "KL": 0, "TV": 0}


def test_binds_loopback_never_shares(server):
    app = server["app"]
    assert server["url"].startswith("http://127.0.0.1:")
    assert app.share is False and app.share_url is None


def test_the_page_serves_no_file_but_its_own_outputs(server, store):
    weights = store.get("toy").path / "generator.safetensors"
    for target in ("/etc/passwd", str(weights), "https://example.com/x.png"):
        assert httpx.get(f"{server['url']}gradio_api/file={target}", timeout=30).status_code == 403


def test_no_outbound_connection_was_attempted(server):
    assert server["outbound"] == []


def test_a_full_queue_answers_busy(store, tmp_path):
    """Concurrency 1 and room for 1 waiting request in Gradio's queue: with the first request held, two more are
    refused at once. (Generate waits on the batcher instead, whose own bound is tested in tests/test_server.py.)"""
    held = HeldLoader()
    service = SamplingService(store, loader=held)
    with live_server(build_app(service=service, max_queue=1, concurrency=1), service) as live:
        client = page_client(live["url"], tmp_path)
        jobs = [client.submit("digits", 0, 1, 2, api_name="/interpolate") for _ in range(4)]
        assert held.entered.wait(60)
        deadline = time.time() + 60
        while sum(job.done() for job in jobs) < 2 and time.time() < deadline:
            time.sleep(0.1)
        held.gate.set()
        outcomes = []
        for job in jobs:
            try:
                outcomes.append(Image.open(job.result(timeout=120)[0]).size)
            except Exception as exc:  # noqa: BLE001 - the client's QueueError
                outcomes.append(str(exc))
    assert sorted(map(str, outcomes)) == ["(230, 116)", "(230, 116)", "Queue is full! Please try again.",
                                          "Queue is full! Please try again."]
    assert service.generators.loads == 1


def assert_login_required(url: str, directory: Path) -> None:
    """No credentials and wrong ones are refused; the right ones reach the API."""
    with pytest.raises(Exception, match="credentials were not provided"):
        page_client(url, directory)
    with pytest.raises(ValueError, match="Could not login"):
        page_client(url, directory, auth=("ann", "wrong"))
    rows = page_client(url, directory, auth=("ann", "s3cret")).predict(api_name="/list_models")
    assert {row["ref"] for row in rows} >= {"digits:1", "toy:1"}


def test_auth_is_required_when_asked_for(server, tmp_path):
    with serving(build_app(service=server["service"]), auth=("ann", "s3cret")) as url:
        assert_login_required(url, tmp_path)


@pytest.mark.slow
def test_the_serve_command_asks_for_the_login_given_with_auth(store, tmp_path):
    with serve_command(store, tmp_path, "--auth", "ann:s3cret") as url:
        assert_login_required(url, tmp_path)


def test_outputs_older_than_ten_minutes_are_swept_at_most_once_a_minute(store, monkeypatch):
    service = SamplingService(store)
    try:
        stale, fresh = service.workdir / "samples-stale.png", service.workdir / "samples-fresh.png"
        for path in (stale, fresh):
            path.write_bytes(b"png")
        old = time.time() - OUTPUT_MAX_AGE_S - 5
        os.utime(stale, (old, old))
        kept = service.generate("toy", 0, 4)
        assert not stale.exists() and fresh.exists() and kept.exists()
        os.utime(fresh, (old, old))
        service.generate("toy", 1, 4)
        assert fresh.exists()  # within the minute: no second sweep
        clock = time.monotonic() + OUTPUT_SWEEP_EVERY_S + 1
        # the service module's clock only: patching time.monotonic itself also moved the live server's event loop
        # (asyncio's clock) a minute ahead, and its next tick, scheduled then, came a minute late once the patch
        # was undone, so the module's server took 60 s to notice it should stop
        monkeypatch.setattr(service_module, "time", SimpleNamespace(monotonic=lambda: clock, time=time.time))
        service.generate("toy", 2, 4)
        assert not fresh.exists() and kept.exists()
    finally:
        service.close()


def test_service_refuses_without_a_server_too(store):
    service = SamplingService(store)
    try:
        with pytest.raises(GanzooError, match="looks like a file path"):
            service.generate(str(store.get("toy").path), 0, 4)
        assert service.generators.loads == 0
    finally:
        service.close()
    assert not service.workdir.exists()
