"""Dynamic batching: concurrent sample requests for one model are joined into one forward pass and split again.

Model servers do this (Triton's and TorchServe's dynamic batching, BentoML's adaptive batching): four clients
asking for 64 samples of the same model at about the same time cost one forward pass of 256 rows instead of four
of 64. :class:`Batcher` keeps the requests that wait, over all models, in one bounded queue; ``concurrency``
worker threads (the compute slots) take them. The policy never leaves compute idle to form a batch:

- a free slot takes the oldest waiting request's model at once, never waiting for company (``max_wait_ms=0``,
  the default);
- requests join only from a backlog, i.e. more requests waiting than there are slots: a free slot takes its
  share of the waiting requests, one ``concurrency``-th of them rounded up (so up to ``concurrency`` waiting
  requests still run one per slot, side by side on a core each, instead of one batch of twice the rows on one
  core while the other slot is about to free), at most ``max_batch`` rows (each request counts its n rounded up
  to whole 16-row blocks, :func:`ganzoo.runs.noise.padded_rows`);
- ``max_wait_ms > 0`` is an opt-in linger for light loads: the last free slot waits up to that long after the
  oldest request arrived for more requests of its model (bigger batches, later answers);

- every caller's noise is drawn from its own seed (:func:`ganzoo.runs.noise.seeded_noise`, exactly what
  ``ganzoo sample`` draws), the noises are concatenated, the generator (in eval mode) runs once under
  ``torch.inference_mode`` (no autograd state), and the output is split back, so each caller gets the samples its
  seed gives alone: rows of an eval-mode generator do not depend on each other (``tests/test_batching.py``
  checks the bytes against unbatched requests);
- a request larger than ``max_batch`` runs alone; ``max_batch=1`` switches batching off;
- when ``queue_size`` requests are waiting, :meth:`Batcher.submit` raises :class:`Busy` at once (the server
  answers HTTP 429, the page "busy") instead of queueing more: memory never grows with the load;
- a worker only computes samples: encoding them (PNG, NPZ) and sending them happen in the caller's thread, after
  the slot is free, so a slow client never holds a compute slot. A request whose caller gave up (its future was
  cancelled while waiting) is dropped before it is computed.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import torch

from ganzoo.errors import GanzooError
from ganzoo.runs.noise import pad_rows, padded_rows, seeded_noise
from ganzoo.serve import validation

DEFAULT_MAX_BATCH, DEFAULT_MAX_WAIT_MS, DEFAULT_QUEUE_SIZE = (validation.DEFAULT_MAX_BATCH,
                                                              validation.DEFAULT_MAX_WAIT_MS,
                                                              validation.DEFAULT_QUEUE_SIZE)


class Busy(GanzooError):
    """The batcher's queue is full: the request was not accepted (HTTP 429; try again shortly)."""


@dataclass
class _Request:
    ref: str
    n: int
    seed: int
    future: Future = field(default_factory=Future)
    arrived: float = field(default_factory=time.perf_counter)


@dataclass
class BatchStats:
    """What the batcher did: requests accepted, refused (:class:`Busy`) and computed, forward passes, the largest
    batch (samples), and the most requests that ever waited at once."""

    accepted: int = 0
    refused: int = 0
    computed: int = 0
    batches: int = 0
    largest_batch: int = 0
    most_waiting: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class Batcher:
    """Joins concurrent sample requests per model into one forward pass (see the module's text).

    ``generator_for(ref)`` returns the loaded generator of a resolved store reference (``name:version``), e.g.
    :meth:`SamplingService.generator_for_ref` (an LRU cache). Start is lazy: the workers start with the first
    request; :meth:`close` stops them and fails what still waits.
    """

    def __init__(self, generator_for: Callable[[str], Any], *, max_batch: int = DEFAULT_MAX_BATCH,
                 max_wait_ms: float = DEFAULT_MAX_WAIT_MS, queue_size: int = DEFAULT_QUEUE_SIZE,
                 concurrency: int = validation.DEFAULT_CONCURRENCY) -> None:
        self.max_batch = validation.whole_number(max_batch, "max_batch", 1, validation.MAX_BATCH)
        self.max_wait_ms = validation.real_number(max_wait_ms, "max_wait_ms", 0, validation.MAX_WAIT_MS)
        self.queue_size = validation.whole_number(queue_size, "queue_size", 1, validation.MAX_QUEUE)
        self.concurrency = validation.whole_number(concurrency, "concurrency", 1, validation.MAX_CONCURRENCY)
        self._generator_for = generator_for
        self._waiting: dict[str, deque[_Request]] = {}
        self._count = 0
        self._collecting: set[str] = set()  # models a worker is gathering a batch for
        self._busy = 0  # workers computing a batch (the others are free)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._workers: list[threading.Thread] = []
        self._closed = False
        self.stats = BatchStats()

    # --- callers ----------------------------------------------------------------------------------------------

    def submit(self, ref: str, n: int, seed: int) -> Future:
        """Queue ``n`` samples of model ``ref`` (resolved, ``name:version``) drawn with ``seed``; returns a future
        of the ``[n, *shape]`` float32 CPU tensor. Raises :class:`Busy` at once when the queue is full."""
        request = _Request(ref, validation.sample_count(n), validation.seed(seed))
        with self._changed:
            if self._closed:
                raise GanzooError("the sampling server is shutting down", hint="try again once it is back")
            if self._count >= self.queue_size:
                self.stats.refused += 1
                raise Busy(f"the server is busy: {self._count} sample requests are already waiting",
                           hint="try again in a moment (the queue holds at most "
                                f"{self.queue_size}; `ganzoo serve --queue-size N` sets it)")
            self._start_workers()
            self._waiting.setdefault(ref, deque()).append(request)
            self._count += 1
            self.stats.accepted += 1
            self.stats.most_waiting = max(self.stats.most_waiting, self._count)
            self._changed.notify_all()
        return request.future

    def sample(self, ref: str, n: int, seed: int, timeout: float | None = None) -> torch.Tensor:
        """:meth:`submit` and wait for the samples."""
        return self.submit(ref, n, seed).result(timeout)

    @property
    def waiting(self) -> int:
        """Requests accepted and not yet taken into a batch."""
        with self._lock:
            return self._count

    def close(self) -> None:
        """Stop the workers; requests still waiting fail with a GanzooError."""
        with self._changed:
            self._closed = True
            left = [request for queue in self._waiting.values() for request in queue]
            self._waiting.clear()
            self._count = 0
            self._changed.notify_all()
        for request in left:
            if request.future.set_running_or_notify_cancel():
                request.future.set_exception(GanzooError("the sampling server stopped before this request ran"))
        for worker in self._workers:
            worker.join(timeout=30)

    # --- workers ----------------------------------------------------------------------------------------------

    def _start_workers(self) -> None:
        while len(self._workers) < self.concurrency:
            worker = threading.Thread(target=self._work, name=f"ganzoo-batcher-{len(self._workers)}", daemon=True)
            self._workers.append(worker)
            worker.start()

    def _oldest_free_model(self) -> str | None:
        """The model, not being gathered by another worker, whose oldest waiting request came first."""
        heads = [(queue[0].arrived, ref) for ref, queue in self._waiting.items()
                 if queue and ref not in self._collecting]
        return min(heads)[1] if heads else None

    def _take_batch(self) -> list[_Request] | None:
        """Wait for requests, take this slot's share of one model's waiting requests out of the queue (see the
        module's text) and count this slot busy. None once closed."""
        with self._changed:
            while True:
                if self._closed:
                    return None
                ref = self._oldest_free_model()
                if ref is not None:
                    break
                self._changed.wait()
            queue = self._waiting[ref]
            self._collecting.add(ref)
            try:
                free = len(self._workers) - self._busy  # this slot included
                if self.max_wait_ms > 0 and free == 1:  # the opt-in linger of the last free slot
                    deadline = queue[0].arrived + self.max_wait_ms / 1000
                    while not self._closed and sum(padded_rows(r.n) for r in queue) < self.max_batch:
                        left = deadline - time.perf_counter()
                        if left <= 0:
                            break
                        self._changed.wait(left)
                share = -(-self._count // self.concurrency)  # the other slots, free or about to be, take the rest
                batch: list[_Request] = []
                rows = taken = 0
                while queue and taken < share and (not batch or rows + padded_rows(queue[0].n) <= self.max_batch):
                    request = queue.popleft()
                    self._count -= 1
                    taken += 1
                    if request.future.set_running_or_notify_cancel():  # False: the caller gave up meanwhile
                        batch.append(request)
                        rows += padded_rows(request.n)
                if not queue:
                    del self._waiting[ref]
                self._busy += 1
            finally:
                self._collecting.discard(ref)
                self._changed.notify_all()
            return batch

    def _work(self) -> None:
        while True:
            batch = self._take_batch()
            if batch is None:
                return
            try:
                if batch:
                    self._run(batch)
            finally:
                with self._lock:
                    self._busy -= 1

    def _run(self, batch: list[_Request]) -> None:
        try:
            outputs = self.forward(self._generator_for(batch[0].ref), [(r.n, r.seed) for r in batch])
        except BaseException as exc:  # noqa: BLE001 - every caller of the batch gets the failure
            for request in batch:
                request.future.set_exception(exc)
            return
        with self._lock:
            self.stats.computed += len(batch)
            self.stats.batches += 1
            self.stats.largest_batch = max(self.stats.largest_batch, sum(padded_rows(r.n) for r in batch))
        for request, samples in zip(batch, outputs, strict=True):
            request.future.set_result(samples)

    @staticmethod
    def forward(generator: Any, requests: list[tuple[int, int]]) -> list[torch.Tensor]:
        """One forward pass of ``generator`` for several (n, seed) requests: each request's noise from its own seed,
        padded to whole row blocks as ``ganzoo sample`` pads it (:func:`ganzoo.runs.noise.pad_rows`), concatenated,
        run under ``torch.inference_mode``, split back (float32, CPU, one tensor per request)."""
        z = torch.cat([pad_rows(seeded_noise(n, generator.latent_dim, seed)) for n, seed in requests])
        with torch.inference_mode():
            out = generator(z.to(generator.device)).float().cpu()
        parts = out.split([padded_rows(n) for n, _ in requests])
        return [part[:n].clone() for part, (n, _) in zip(parts, requests, strict=True)]
