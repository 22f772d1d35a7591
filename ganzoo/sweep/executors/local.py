"""The ``local`` executor: N worker processes on this machine, each running one trial at a time.

On a CPU each worker trains with ``threads`` torch threads (default 1: N one-thread trials beat one N-thread trial
for small networks); with GPUs, one worker per GPU, each seeing only its own (``CUDA_VISIBLE_DEVICES``). Workers are
started once (``spawn``) and take trials one after another. A worker that dies (killed, out of memory) is replaced
and its trial started again, resuming from its checkpoint, up to ``retries`` times; then the trial is lost. Workers
run in their own process group, so a Ctrl-C reaches only the driver, which asks each worker once to stop (its
trainer checkpoints); a worker dies with the driver (Linux: ``PR_SET_PDEATHSIG``; elsewhere: it polls its parent).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, ClassVar

from ganzoo.errors import ConfigError
from ganzoo.plugin.executor import Executor, ExecutorEvents

STOP_GRACE_S = 120.0  # how long a Ctrl-C waits for the running trials to checkpoint
PARENT_POLL_S = 0.5


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def gpu_count() -> int:
    if "torch" not in sys.modules and os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
        return 0
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


class LocalExecutor(Executor):
    """``workers`` processes (default: one per GPU, else one per CPU core), ``threads`` torch threads each on a
    CPU, ``retries`` restarts of a trial whose worker died."""

    name: ClassVar[str] = "local"

    def __init__(self, workers: int | None = None, threads: int = 1, retries: int = 1, gpus: bool = True) -> None:
        for key, value, low in (("workers", workers, 1), ("threads", threads, 1), ("retries", retries, 0)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < low):
                raise ConfigError(f"local executor: {key} must be a whole number >= {low}, got {value!r}")
        self.gpus = gpu_count() if gpus else 0
        self.workers = workers or self.gpus or available_cpus()
        self.threads, self.retries = threads, retries

    def describe(self) -> str:
        if self.gpus:
            return f"local: {self.workers} worker processes, one trial per GPU ({self.gpus} GPUs)"
        return f"local: {self.workers} worker process{'es' if self.workers > 1 else ''}, {self.threads} torch " \
               f"thread{'s' if self.threads > 1 else ''} each"

    def run(self, tasks: Sequence[Any], work: Callable[[Any], Any], events: ExecutorEvents) -> None:
        queue = deque(tasks)
        if not queue:
            return
        context = multiprocessing.get_context("spawn")
        workers = [self._start(context, work, i) for i in range(min(self.workers, len(queue)))]
        attempts: dict[str, int] = {}
        try:
            while queue or any(w.task is not None for w in workers):
                for worker in workers:
                    if worker.task is None and queue:
                        worker.give(queue.popleft())
                        events.started(worker.task, worker.where)
                busy = [w for w in workers if w.task is not None]
                wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=1.0)
                for i, worker in enumerate(workers):
                    if worker.task is None:
                        continue
                    report = worker.poll()
                    if report is not _NOTHING:
                        task, worker.task = worker.task, None
                        _report(events, task, report)
                    elif not worker.process.is_alive():
                        task, code = worker.task, worker.process.exitcode
                        worker.close()
                        workers[i] = self._start(context, work, worker.index)
                        attempts[task.trial_id] = attempts.get(task.trial_id, 0) + 1
                        if attempts[task.trial_id] <= self.retries:
                            queue.appendleft(task)  # started again: it resumes from its checkpoint
                        else:
                            events.lost(task, f"the worker process running it died ({_exit_text(code)})")
        except KeyboardInterrupt:
            self._stop(workers, events)
            raise
        finally:
            for worker in workers:
                worker.close()

    def _start(self, context: Any, work: Callable[[Any], Any], index: int) -> _Worker:
        ours, theirs = context.Pipe()
        gpu = index if self.gpus else None
        process = context.Process(target=_worker_main, args=(theirs, work, self.threads, gpu, os.getpid()),
                                  name=f"ganzoo-sweep-worker-{index}", daemon=True)
        process.start()
        theirs.close()
        where = f"worker {index + 1}" + (f" (GPU {gpu})" if gpu is not None else "")
        return _Worker(index, process, ours, where)

    def _stop(self, workers: list[_Worker], events: ExecutorEvents) -> None:
        """Ask each running worker once to stop (its trainer checkpoints and reports an interrupted trial)."""
        for worker in workers:
            if worker.task is not None and worker.process.is_alive():
                with contextlib.suppress(OSError):
                    os.kill(worker.process.pid, signal.SIGINT)
        deadline = time.monotonic() + STOP_GRACE_S
        while any(w.task is not None and w.process.is_alive() for w in workers) and time.monotonic() < deadline:
            busy = [w for w in workers if w.task is not None]
            with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C: stop waiting
                wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=1.0)
            for worker in busy:
                report = worker.poll()
                if report is not _NOTHING:
                    task, worker.task = worker.task, None
                    _report(events, task, report)


_NOTHING = object()


@dataclass(frozen=True)
class _Raised:
    """``work`` raised instead of returning a report (a bug in it): the task is reported lost with the traceback."""

    text: str


def _report(events: ExecutorEvents, task: Any, report: Any) -> None:
    if isinstance(report, _Raised):
        events.lost(task, f"work raised an exception:\n{report.text}")
    else:
        events.finished(task, report)


@dataclass
class _Worker:
    index: int
    process: Any
    conn: Connection
    where: str
    task: Any = None

    def give(self, task: Any) -> None:
        self.task = task
        self.conn.send(task)

    def poll(self) -> Any:
        """The report of the running task if it came back, else ``_NOTHING`` (also when the worker died)."""
        try:
            if not self.conn.poll():
                return _NOTHING
            kind, payload = self.conn.recv()
        except (EOFError, OSError):
            return _NOTHING
        return _Raised(payload) if kind == "error" else payload

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(None)
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)
        with contextlib.suppress(OSError):
            self.conn.close()


def _exit_text(code: int | None) -> str:
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


def _worker_main(conn: Connection, work: Callable[[Any], Any], threads: int, gpu: int | None, parent: int) -> None:
    os.setpgrp()  # a terminal's Ctrl-C goes to the driver alone; it forwards one SIGINT per running trial
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # between trials; a trainer handles it while it trains
    _die_with(parent)
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu)
    else:
        os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        try:
            conn.send(("report", work(task)))
        except Exception:
            conn.send(("error", traceback.format_exc()))


def _die_with(parent: int) -> None:
    """End this worker when the driver dies, even by SIGKILL (no trial may train twice at once)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
            if os.getppid() != parent:  # the driver died before the call
                os._exit(1)
            return

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()
