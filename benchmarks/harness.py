"""The measuring harness the benchmark scripts share: threads and device, CPU time and memory, timed blocks, and
measuring processes that take turns.

On a shared machine absolute speeds drift with other people's work; two blocks run seconds apart see about the
same load, so only ratios measured side by side mean anything. Hence the shape of a measurement here: every
measured loop in its own process (peak memory is per process), set up once, then the processes take turns running
one block each per round while the others wait idle, who goes first rotating from round to round.

Nothing here imports ganzoo: what is measured is the caller's business.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import torch

T = TypeVar("T")

# --- threads and device ---------------------------------------------------------------------------------------


def auto_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def set_threads(threads: int) -> None:
    """torch's intra-op threads of this process."""
    torch.set_num_threads(threads)


def thread_env(threads: int) -> dict[str, str]:
    """The environment of a measuring child: OpenMP and MKL size their pools at start-up, before the child's own
    ``set_threads`` runs, so the thread count is also given to them here."""
    return dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))


# --- CPU time and memory of this process and its children -----------------------------------------------------


def peak_rss_mib(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident set size in MiB (Linux reports KiB, macOS bytes)."""
    value = resource.getrusage(who).ru_maxrss
    return value / (1024 * 1024) if sys.platform == "darwin" else value / 1024


def live_children() -> Iterator[tuple[Path, list[str]]]:
    """(``/proc/PID``, fields of its ``stat`` after the command name) of this process's live children (Linux;
    nothing elsewhere). ``fields[1]`` is the parent pid, ``fields[11]`` / ``fields[12]`` user / system ticks."""
    proc, me = Path("/proc"), os.getpid()
    if not proc.is_dir():
        return
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == me:
                yield entry, fields
        except (OSError, IndexError, ValueError):  # the process ended meanwhile
            continue


def children_pss_mib() -> float | None:
    """Summed proportional set size (shared pages split between sharers) of this process's live children, in
    MiB: what DataLoader workers add. Linux only (None elsewhere).

    ``RUSAGE_CHILDREN`` cannot be used: ``import torch`` already runs a short-lived child of ~430 MiB RSS.
    """
    if not Path("/proc/self/smaps_rollup").exists():
        return None
    total = 0.0
    for entry, _ in live_children():
        try:
            for line in (entry / "smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) / 1024
        except (OSError, IndexError, ValueError):
            continue
    return total


def children_cpu_s() -> float:
    """CPU seconds (user + system) of this process's children: reaped ones (``RUSAGE_CHILDREN``) plus live ones
    (``/proc``, Linux only), so DataLoader workers count whether or not they have exited yet."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    live = sum(int(fields[11]) + int(fields[12]) for _, fields in live_children()) / tick
    return usage.ru_utime + usage.ru_stime + live


@dataclass
class Timing:
    """What ``timed()`` measured; filled in when its block ends."""

    time_s: float = 0.0  # wall clock
    cpu_s: float = 0.0  # user + system of this process and its children
    system_s: float = 0.0  # system time of this process only: page faults etc.
    minor_faults: int = 0


@contextlib.contextmanager
def timed() -> Iterator[Timing]:
    """Wall and CPU time of the ``with`` block. The children's CPU time is read (a walk over ``/proc``) outside
    the wall-clock window, so reading it does not count as time the block took."""
    timing = Timing()
    children_start = children_cpu_s()
    usage_start = resource.getrusage(resource.RUSAGE_SELF)
    cpu_start, start = time.process_time(), time.perf_counter()
    yield timing
    timing.time_s = time.perf_counter() - start
    timing.cpu_s = time.process_time() - cpu_start + children_cpu_s() - children_start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    timing.system_s = usage.ru_stime - usage_start.ru_stime
    timing.minor_faults = usage.ru_minflt - usage_start.ru_minflt


# --- one training loop measured in this process ---------------------------------------------------------------

#: A ready-to-train loop: one call runs one training step and returns its logged values (a tensor, no host sync).
Step = Callable[[], torch.Tensor]


class LoopMeasurement:
    """One training loop set up once in this process (timed), warmed up, then timed in blocks of steps.

    The caller imports everything any loop it compares needs before creating this, so that the memory baseline
    (``baseline_rss_mib``, read here first) and the setup time do not depend on which loop the process runs.
    On a temporary folder (removed by ``finish``), ``prepare`` does untimed one-time work (what a user does once,
    such as unpacking a download), then ``build`` makes the loop and returns its step: that is ``setup_s``.
    ``about`` (which loop, its settings) is reported with ``ready()``.
    """

    def __init__(self, build: Callable[[Path], Step], *, device: str, warmup: int, flush_every: int,
                 measure_workers: bool, about: dict[str, Any], prepare: Callable[[Path], object] | None = None) -> None:
        self.baseline_rss = peak_rss_mib()
        self.device = device
        self.cuda = device.startswith("cuda")
        self.flush_every = flush_every
        self.measure_workers = measure_workers
        self.about = about
        self._tmp = tempfile.TemporaryDirectory(prefix="ganzoo-bench-")
        tmp = Path(self._tmp.name)
        if prepare is not None:
            prepare(tmp)
        start = time.perf_counter()
        self.step = build(tmp)
        self.setup_s = time.perf_counter() - start
        for _ in range(warmup):  # DataLoader workers start here, on the first batch
            self.step().cpu()
        self.sync()

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def ready(self) -> dict[str, Any]:
        return {**self.about, "setup_s": self.setup_s, "baseline_rss_mib": self.baseline_rss}

    def block(self, steps: int, profile: bool = False) -> dict[str, Any]:
        """Time ``steps`` steps: wall seconds, and CPU seconds of this process and its children. The logged values
        come to the host every ``flush_every`` steps, as a training loop's log does (one host sync each)."""
        profiler = (torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) if profile
                    else contextlib.nullcontext())
        with profiler, timed() as timing:
            pending = []
            for i in range(steps):
                pending.append(self.step())
                if (i + 1) % self.flush_every == 0 or i + 1 == steps:
                    torch.stack(pending).cpu()
                    pending = []
            self.sync()
        if profile:
            print(profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=25), file=sys.stderr)
        return {"steps": steps, "time_s": timing.time_s, "cpu_s": timing.cpu_s, "steps_per_s": steps / timing.time_s,
                "system_s": timing.system_s, "minor_faults": timing.minor_faults}

    def finish(self) -> dict[str, Any]:
        """Peak memory after all blocks (worker processes, e.g. a DataLoader's, are still alive here)."""
        workers_pss = children_pss_mib() if self.measure_workers else None
        result = {"peak_rss_mib": peak_rss_mib(), "workers_pss_mib": workers_pss,
                  "cuda_peak_mib": torch.cuda.max_memory_allocated() / 2**20 if self.cuda else None}
        self._tmp.cleanup()
        return result


# --- measuring processes that take turns ----------------------------------------------------------------------
# The protocol, one JSON object per line on the child's stdout: the child prints its ``ready()`` once set up, then
# answers each ``run N`` on its stdin with one timed block and ``stop`` with its ``finish()``. Blocked reading
# its stdin, a child waiting for its turn is idle.


class Measured(Protocol):
    def ready(self) -> dict[str, Any]: ...

    def block(self, steps: int) -> dict[str, Any]: ...

    def finish(self) -> dict[str, Any]: ...


def serve(measurement: Measured, commands: Iterable[str] = sys.stdin) -> None:
    """The child's side: print ``measurement.ready()``, answer ``run N`` with ``measurement.block(N)`` until
    ``stop``, then print ``measurement.finish()``."""
    print(json.dumps(measurement.ready()), flush=True)
    for line in commands:
        command = line.split()
        if command[:1] == ["run"] and len(command) == 2:
            print(json.dumps(measurement.block(int(command[1]))), flush=True)
        elif command == ["stop"]:
            break
    print(json.dumps(measurement.finish()), flush=True)


class Child:
    """A measuring subprocess speaking the protocol above; its stderr goes to ``stderr_path``."""

    def __init__(self, name: str, cmd: Sequence[str], env: dict[str, str], stderr_path: Path) -> None:
        self.name = name
        self.stderr_path = stderr_path
        self._stderr = open(stderr_path, "w")  # noqa: SIM115 - closed in stop() or kill()
        self.proc = subprocess.Popen(list(cmd), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                                     text=True, env=env)

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            self._stderr.close()
            raise SystemExit(f"measurement {self.name} failed:\n{self.stderr_path.read_text()[-4000:]}")
        return json.loads(line)

    def send(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.read()

    def run(self, steps: int) -> dict[str, Any]:
        """One timed block of ``steps`` steps."""
        return self.send(f"run {steps}")

    def stop(self) -> dict[str, Any]:
        result = self.send("stop")
        self.proc.wait()
        self._stderr.close()
        return result

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._stderr.close()


def take_turns(players: Sequence[T], rounds: int) -> Iterator[tuple[int, T]]:
    """(round, player): every player once per round; who goes first rotates, so that no measurement always runs
    right after the same other one."""
    for round_ in range(rounds):
        shift = round_ % len(players)
        for player in [*players[shift:], *players[:shift]]:
            yield round_, player


K = TypeVar("K")


@dataclass
class Turns:
    """What :func:`measure_in_turns` gathered: each child's ``ready()`` and ``finish()`` (in the order given) and
    every block as (round, key, block)."""

    ready: list[dict[str, Any]]
    finished: list[dict[str, Any]]
    blocks: list[tuple[int, Any, dict[str, Any]]]


def measure_in_turns(children: Sequence[tuple[K, Callable[[], Child]]], steps: int, rounds: int,
                     on_block: Callable[[int, K, dict[str, Any]], None] | None = None) -> Turns:
    """Start each ``(key, start)`` child one after the other (each child's first line says it is ready, so
    setups do not overlap), then let them take turns (:func:`take_turns`): in each round every child runs one block
    of ``steps`` while the others wait idle on stdin; ``on_block(round, key, block)`` after each. Every child is
    stopped at the end, and killed if anything failed."""
    started: list[tuple[K, Child]] = []
    turns = Turns([], [], [])
    try:
        for key, start in children:
            child = start()
            started.append((key, child))
            turns.ready.append(child.read())
        for round_, (key, child) in take_turns(started, rounds):
            block = child.run(steps)
            turns.blocks.append((round_, key, block))
            if on_block is not None:
                on_block(round_, key, block)
        turns.finished = [child.stop() for _, child in started]
    finally:
        for _, child in started:
            child.kill()
    return turns


# --- calls timed one after another ----------------------------------------------------------------------------


def timed_calls(call: Callable[[T], str | None], items: Iterable[T],
                interval: float = 0.0) -> Iterator[tuple[float, str | None]]:
    """``call(item)`` for each item, one after another, started every ``interval`` seconds (0: back to back);
    yields (wall seconds the call took, its error or None). An exception counts as an error, named with its
    type, so one failed call does not end the loop."""
    due = time.perf_counter()
    for item in items:
        if interval:
            due += interval
            time.sleep(max(0.0, due - time.perf_counter()))
        began = time.perf_counter()
        try:
            error = call(item)
        except Exception as exc:  # noqa: BLE001 - every failure counts as an error
            error = f"{type(exc).__name__}: {exc}"
        yield time.perf_counter() - began, error


# --- reporting ------------------------------------------------------------------------------------------------


def median_present(values: Iterable[float | None]) -> float | None:
    """The median of the values that are not None (None if there are none)."""
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def markdown_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table with its columns padded to one width, so that it also reads as plain text."""
    lines = [list(head), *(list(row) for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = ["| " + " | ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) + " |" for line in lines]
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def machine() -> dict[str, Any]:
    """The machine and software a measurement ran on, and its load when it started."""
    import torchvision  # here, not at the top: only a benchmark that reports the machine needs it

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "cpu": cpu, "cores": os.cpu_count(),
            "python": platform.python_version(), "torch": torch.__version__, "torchvision": torchvision.__version__,
            "load_average_at_start": os.getloadavg()}
