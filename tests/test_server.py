"""The page and the API on one server (ganzoo/serve/server.py), live on 127.0.0.1: one batcher behind both, the
queue bound answered with HTTP 429 (and "busy" on the page), and slow clients that cannot hold a compute slot."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time

import httpx
import pytest
from gradio_client.exceptions import AppError
from serve_support import (
    GRADIO_WARNINGS,
    SAMPLES,
    HeldLoader,
    gradio_cache_fixture,
    live_server,
    page_client,
    store_fixture,
)

from ganzoo.errors import GanzooError
from ganzoo.serve.server import bind, build_server
from ganzoo.serve.service import SamplingService
from ganzoo.store.loading import load_generator

pytestmark = GRADIO_WARNINGS
gradio_cache = gradio_cache_fixture()
store = store_fixture("server-store")


@pytest.fixture(scope="module")
def live(store):
    service = SamplingService(store)
    with live_server(build_server(service=service), service) as live:
        yield live


def test_binds_loopback_on_the_port_asked_for_and_refuses_a_taken_one(live):
    assert live["url"].startswith("http://127.0.0.1:")
    port = int(live["url"].rstrip("/").rsplit(":", 1)[1])
    with pytest.raises(GanzooError, match=f"cannot serve on 127.0.0.1:{port}"):
        bind("127.0.0.1", port)


def test_the_page_and_the_api_answer_on_one_server_through_one_batcher(live, tmp_path):
    service = live["service"]
    before = service.batcher.stats.computed
    client = page_client(live["url"], tmp_path)
    page_png = client.predict("digits", 5, 16, api_name="/generate")  # the page's Generate endpoint
    api_png = httpx.post(live["url"] + SAMPLES.format("digits"), json={"n": 16, "seed": 5}, timeout=60)
    assert api_png.status_code == 200
    with open(page_png, "rb") as handle:
        assert handle.read() == api_png.content  # same bytes through either door
    assert service.batcher.stats.computed == before + 2  # both went through the batcher
    stats = httpx.get(live["url"] + "api/v1/stats", timeout=30).json()
    assert stats["computed"] == service.batcher.stats.computed
    assert httpx.get(live["url"], timeout=30).status_code == 200  # the page itself
    schema = httpx.get(live["url"] + "api/v1/openapi.json", timeout=30).json()
    assert "/api/v1/models/{ref}/samples" in schema["paths"]


def test_concurrent_api_requests_are_joined_and_each_gets_its_own_seed(store, tmp_path):
    """Eight concurrent clients, one compute slot that waits 300 ms for company: fewer forward passes than requests,
    and every response is the bytes of that client's seed alone."""
    service = SamplingService(store, batching={"max_wait_ms": 300, "concurrency": 1})
    app = build_server(service=service)
    generator = load_generator("digits", store=store)
    expected = {seed: service.encode(store.get("digits"), generator.sample(8, seed=seed), seed, "npz")
                for seed in range(8)}
    got: dict[int, bytes] = {}
    with live_server(app, service) as live:
        def call(seed: int) -> None:
            got[seed] = httpx.post(live["url"] + SAMPLES.format("digits"), json={"n": 8, "seed": seed, "format": "npz"},
                                   timeout=60).content

        threads = [threading.Thread(target=call, args=(seed,)) for seed in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    assert got == expected
    assert service.batcher.stats.computed == 8 and service.batcher.stats.batches < 8


@contextlib.contextmanager
def held_server(store, **batching):
    """A live server whose first model load waits for the returned gate (one compute slot)."""
    held = HeldLoader()
    service = SamplingService(store, loader=held, batching={"concurrency": 1, "max_wait_ms": 0, **batching})
    with live_server(build_server(service=service), service) as live:
        try:
            yield live["url"], service, held.gate, held.entered
        finally:
            held.gate.set()  # before the service closes: its workers wait for the gate


def test_a_full_queue_answers_429_at_once_and_the_page_busy(store, tmp_path):
    with held_server(store, queue_size=1) as (url, service, gate, entered):
        pending: list[httpx.Response] = []

        def call(seed: int) -> None:
            pending.append(httpx.post(url + SAMPLES.format("digits"), json={"n": 4, "seed": seed}, timeout=120))

        first = threading.Thread(target=call, args=(0,))
        first.start()
        assert entered.wait(60)
        deadline = time.time() + 30
        while service.batcher.waiting or service.batcher.stats.accepted < 1:  # the worker holds request 0
            assert time.time() < deadline
            time.sleep(0.01)
        second = threading.Thread(target=call, args=(1,))
        second.start()
        while service.batcher.waiting < 1:  # request 1 fills the queue
            assert time.time() < deadline
            time.sleep(0.01)
        began = time.perf_counter()
        refused = httpx.post(url + SAMPLES.format("digits"), json={"n": 4, "seed": 2}, timeout=30)
        assert time.perf_counter() - began < 5  # at once, not after the held request
        assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
        assert refused.json()["error"] == "the server is busy: 1 sample requests are already waiting"
        client = page_client(url, tmp_path)
        with pytest.raises(AppError, match="the server is busy"):
            client.predict("digits", 3, 4, api_name="/generate")
        gate.set()
        first.join(120)
        second.join(120)
    assert sorted(r.status_code for r in pending) == [200, 200]
    assert service.batcher.stats.refused == 2 and service.batcher.stats.most_waiting == 1


def slow_reader(url: str, body: dict) -> socket.socket:
    """A client that sends a request for a large answer and then reads nothing (a tiny receive buffer)."""
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    data = json.dumps(body).encode()
    sock.sendall(f"POST /{SAMPLES.format('digits')} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
    return sock


def test_slow_clients_cannot_hold_the_compute_slot(store):
    service = SamplingService(store, batching={"concurrency": 1, "max_wait_ms": 0})
    with live_server(build_server(service=service), service) as live:
        url = live["url"]
        slow = [slow_reader(url, {"n": 256, "seed": seed, "format": "npz"}) for seed in range(3)]  # 800 kB each
        try:
            deadline = time.time() + 60
            while service.batcher.stats.computed < 3:  # all three computed, their answers stuck in the sockets
                assert time.time() < deadline
                time.sleep(0.01)
            began = time.perf_counter()
            response = httpx.post(url + SAMPLES.format("digits"), json={"n": 4}, timeout=30)
            assert response.status_code == 200 and time.perf_counter() - began < 10
            assert service.batcher.stats.computed == 4
        finally:
            for sock in slow:
                sock.close()
