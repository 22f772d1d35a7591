"""Dynamic batching (ganzoo/serve/batching.py) on real stored models: a DCGAN (batch norm, eval mode) and an MLP.

Each caller of a joined batch must get exactly the bytes it gets alone, which is what ``ganzoo sample`` writes; the
queue is bounded and refuses at once; the generator runs in inference mode.
"""

from __future__ import annotations

import threading
import time

import pytest
import torch
from serve_support import make_store

from ganzoo.errors import GanzooError
from ganzoo.runs.noise import ROW_BLOCK, padded_rows
from ganzoo.serve.batching import Batcher, Busy
from ganzoo.store.loading import load_generator
from ganzoo.store.sampling import sample_to_file, samples_bytes

SIZES = (1, 3, 16, 64, 100, 7)  # many sizes in one batch: small ones are where float32 kernels change path


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("batching-store"))


@pytest.fixture(scope="module")
def generators(store):
    return {ref: load_generator(ref, store=store) for ref in ("digits:1", "toy:1")}


def held_batcher(generators, gate: threading.Event, entered: threading.Event, **settings) -> Batcher:
    """A batcher whose first model lookup waits for ``gate`` (so a test can fill the queue behind it)."""
    def generator_for(ref):
        entered.set()
        assert gate.wait(60)
        return generators[ref]

    return Batcher(generator_for, **settings)


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        assert time.perf_counter() < deadline, "timed out"
        time.sleep(0.005)


@pytest.mark.parametrize("ref", ["digits:1", "toy:1"])
def test_a_joined_batch_gives_every_caller_the_bytes_it_gets_alone(ref, generators, store, tmp_path):
    generator = generators[ref]
    batcher = Batcher(generators.__getitem__, max_batch=4096, max_wait_ms=500, concurrency=1)
    try:
        futures = [batcher.submit(ref, n, seed) for seed, n in enumerate(SIZES, start=11)]
        results = [future.result(60) for future in futures]
    finally:
        batcher.close()
    assert batcher.stats.batches == 1 and batcher.stats.computed == len(SIZES)  # one forward pass for all
    assert batcher.stats.largest_batch == sum(padded_rows(n) for n in SIZES)
    for (seed, n), samples in zip(enumerate(SIZES, start=11), results, strict=True):
        alone = generator.sample(n, seed=seed)
        assert samples.shape == (n, *generator.shape) and torch.equal(samples, alone), (n, seed)
        pictures = ("png",) if generator.data_kind == "images" or n == SIZES[0] else ()  # scatters are slow
        for fmt in ("npz", "safetensors", *pictures):  # exactly the file `ganzoo sample` writes
            written = sample_to_file(ref, tmp_path / f"{n}-{seed}.{fmt}", n=n, seed=seed, store=store)
            assert samples_bytes(samples, generator, seed, fmt) == written.read_bytes(), (fmt, n, seed)


def test_padding_to_row_blocks_is_what_keeps_rows_independent(generators):
    """Rows computed in blocks of ROW_BLOCK match whatever shares the pass; the padding costs at most 15 rows."""
    assert padded_rows(1) == ROW_BLOCK and padded_rows(64) == 64 and padded_rows(65) == 80
    generator = generators["digits:1"]
    (alone,) = Batcher.forward(generator, [(5, 3)])
    joined = Batcher.forward(generator, [(64, 1), (5, 3), (200, 2)])
    assert torch.equal(joined[1], alone) and torch.equal(alone, generator.sample(5, seed=3))


def test_batching_off_runs_every_request_alone(generators):
    batcher = Batcher(generators.__getitem__, max_batch=1, max_wait_ms=50, concurrency=1)
    try:
        results = [f.result(60) for f in [batcher.submit("digits:1", 4, seed) for seed in range(5)]]
    finally:
        batcher.close()
    assert batcher.stats.batches == 5 and batcher.stats.largest_batch == padded_rows(4)
    assert all(torch.equal(r, generators["digits:1"].sample(4, seed=s)) for s, r in enumerate(results))


def test_requests_for_different_models_are_never_mixed(generators):
    batcher = Batcher(generators.__getitem__, max_wait_ms=200, concurrency=1)
    try:
        futures = [batcher.submit(ref, 8, seed) for seed in range(3) for ref in ("digits:1", "toy:1")]
        results = [f.result(60) for f in futures]
    finally:
        batcher.close()
    assert batcher.stats.batches == 2
    assert [tuple(r.shape) for r in results] == [(8, 1, 28, 28), (8, 2)] * 3


def test_the_generator_runs_in_inference_mode_and_callers_get_plain_tensors(generators):
    generator = generators["digits:1"]
    seen: list[tuple[bool, bool]] = []
    hook = generator.net.register_forward_hook(
        lambda *_: seen.append((torch.is_inference_mode_enabled(), torch.is_grad_enabled())))
    batcher = Batcher(generators.__getitem__, max_wait_ms=0, concurrency=1)
    try:
        samples = batcher.sample("digits:1", 4, 0, timeout=60)
    finally:
        batcher.close()
        hook.remove()
    assert seen == [(True, False)]  # inference mode: no autograd state at all
    assert not samples.requires_grad and not samples.is_inference()  # the caller may use them freely
    samples.mul_(1)  # e.g. in place (an inference tensor would refuse outside inference mode)


def test_requests_that_queue_while_every_slot_is_busy_join_into_one_pass_with_their_own_bytes(generators):
    """The default policy (no linger): what waits behind a busy slot is taken as one batch when the slot frees."""
    gate, entered = threading.Event(), threading.Event()
    batcher = held_batcher(generators, gate, entered, concurrency=1)
    assert batcher.max_wait_ms == 0
    try:
        first = batcher.submit("digits:1", 4, 0)
        assert entered.wait(60)
        wait_for(lambda: batcher.waiting == 0)  # the only slot holds the first request
        backlog = [batcher.submit("digits:1", n, seed) for seed, n in enumerate(SIZES, start=11)]
        assert batcher.waiting == len(SIZES)
        gate.set()
        first.result(60)
        results = [future.result(60) for future in backlog]
    finally:
        gate.set()
        batcher.close()
    assert batcher.stats.batches == 2 and batcher.stats.largest_batch == sum(padded_rows(n) for n in SIZES)
    for (seed, n), samples in zip(enumerate(SIZES, start=11), results, strict=True):
        assert torch.equal(samples, generators["digits:1"].sample(n, seed=seed)), (n, seed)


def test_a_free_slot_takes_a_request_at_once_instead_of_joining_it_to_a_busy_one(generators):
    """Two slots, two requests: both are computed at the same time, one per slot, not joined into one pass."""
    gate, lookups = threading.Event(), []

    def generator_for(ref):
        lookups.append(ref)
        assert gate.wait(60)
        return generators[ref]

    batcher = Batcher(generator_for, concurrency=2)
    try:
        futures = [batcher.submit("digits:1", 4, seed) for seed in (0, 1)]
        wait_for(lambda: len(lookups) == 2)  # both slots hold one request each
        assert batcher.waiting == 0
        gate.set()
        results = [future.result(60) for future in futures]
    finally:
        gate.set()
        batcher.close()
    assert batcher.stats.batches == 2 and batcher.stats.largest_batch == padded_rows(4)
    assert all(torch.equal(r, generators["digits:1"].sample(4, seed=s)) for s, r in enumerate(results))


def test_a_free_slot_takes_its_share_of_a_backlog_not_all_of_it(generators):
    """Two slots busy, six requests waiting: the slot that frees first takes ceil(6 / 2) = 3 of them, the next
    ceil(3 / 2) = 2, the last one what is left, and every caller still gets its own seed's samples."""
    gate, lookups, joined = threading.Event(), [], []

    def generator_for(ref):
        lookups.append(ref)
        assert gate.wait(60)
        return generators[ref]

    class Recording(Batcher):
        def _take_batch(self):  # the size of every batch a slot took
            batch = super()._take_batch()
            if batch:
                joined.append(len(batch))
            return batch

    batcher = Recording(generator_for, concurrency=2)
    try:
        held = [batcher.submit("digits:1", 4, seed) for seed in (0, 1)]
        wait_for(lambda: len(lookups) == 2)  # both slots hold one request each
        backlog = [batcher.submit("digits:1", 4, seed) for seed in range(10, 16)]
        assert batcher.waiting == 6
        gate.set()
        results = [future.result(60) for future in held + backlog]
    finally:
        gate.set()
        batcher.close()
    assert sorted(joined) == [1, 1, 1, 2, 3]  # taking all six at once would give [1, 1, 6]
    assert batcher.stats.largest_batch == 3 * padded_rows(4)
    assert batcher.stats.batches == 5 and batcher.stats.computed == 8
    for seed, samples in zip((0, 1, *range(10, 16)), results, strict=True):
        assert torch.equal(samples, generators["digits:1"].sample(4, seed=seed)), seed


def test_a_full_queue_refuses_at_once_and_memory_does_not_grow(generators):
    gate, entered = threading.Event(), threading.Event()
    batcher = held_batcher(generators, gate, entered, queue_size=2, max_wait_ms=0, concurrency=1)
    try:
        first = batcher.submit("digits:1", 4, 0)
        assert entered.wait(60)
        wait_for(lambda: batcher.waiting == 0)  # the worker holds the first request: the queue is empty
        queued = [batcher.submit("digits:1", 4, seed) for seed in (1, 2)]
        began = time.perf_counter()
        for _ in range(3):
            with pytest.raises(Busy, match="busy: 2 sample requests are already waiting"):
                batcher.submit("digits:1", 4, 3)
        assert time.perf_counter() - began < 1.0  # refused at once, not after a wait
        assert batcher.waiting == 2 and batcher.stats.refused == 3
        gate.set()
        results = [f.result(60) for f in (first, *queued)]
    finally:
        gate.set()
        batcher.close()
    assert [torch.equal(r, generators["digits:1"].sample(4, seed=s)) for s, r in enumerate(results)] == [True] * 3
    assert batcher.stats.most_waiting == 2


def test_a_request_whose_caller_gave_up_is_not_computed(generators):
    gate, entered = threading.Event(), threading.Event()
    batcher = held_batcher(generators, gate, entered, max_wait_ms=0, concurrency=1)
    try:
        first = batcher.submit("digits:1", 4, 0)
        assert entered.wait(60)
        wait_for(lambda: batcher.waiting == 0)
        abandoned = batcher.submit("digits:1", 4, 1)
        assert abandoned.cancel()
        gate.set()
        first.result(60)
        kept = batcher.submit("digits:1", 4, 2).result(60)
    finally:
        gate.set()
        batcher.close()
    assert batcher.stats.computed == 2 and kept.shape == (4, 1, 28, 28)


def test_a_failure_reaches_every_caller_of_the_batch():
    def missing(ref):
        raise GanzooError(f"no model called {ref!r} in the store")

    batcher = Batcher(missing, max_wait_ms=200, concurrency=1)
    try:
        futures = [batcher.submit("gone:1", 4, seed) for seed in range(3)]
        for future in futures:
            with pytest.raises(GanzooError, match="no model called 'gone:1'"):
                future.result(60)
        assert batcher.submit("gone:1", 4, 0).exception(60) is not None  # the workers survive a failure
    finally:
        batcher.close()


def test_closing_fails_what_still_waits_and_refuses_new_requests(generators):
    gate, entered = threading.Event(), threading.Event()
    batcher = held_batcher(generators, gate, entered, max_wait_ms=0, concurrency=1)
    first = batcher.submit("digits:1", 4, 0)
    assert entered.wait(60)
    wait_for(lambda: batcher.waiting == 0)
    waiting = batcher.submit("digits:1", 4, 1)
    closer = threading.Thread(target=batcher.close)
    closer.start()
    with pytest.raises(GanzooError, match="stopped before this request ran"):
        waiting.result(60)
    gate.set()
    closer.join(60)
    assert first.result(60).shape == (4, 1, 28, 28)
    with pytest.raises(GanzooError, match="shutting down"):
        batcher.submit("digits:1", 4, 2)


@pytest.mark.parametrize(("setting", "value", "words"), [
    ("max_batch", 0, "max_batch must be a whole number from 1 to 4096"),
    ("max_wait_ms", -1, "max_wait_ms must be a number from 0 to 1000"),
    ("queue_size", 0, "queue_size must be a whole number from 1 to 10000"),
    ("concurrency", 1000, "concurrency must be a whole number from 1 to 64"),
])
def test_settings_are_checked(setting, value, words):
    with pytest.raises(GanzooError, match=words):
        Batcher(lambda ref: None, **{setting: value})


def test_requests_are_checked_before_they_queue(generators):
    batcher = Batcher(generators.__getitem__)
    with pytest.raises(GanzooError, match="n must be a whole number from 1 to 256"):
        batcher.submit("digits:1", 0, 0)
    with pytest.raises(GanzooError, match="seed must be a whole number from 0 to 4294967295"):
        batcher.submit("digits:1", 4, -1)
    assert batcher.waiting == 0
    batcher.close()
