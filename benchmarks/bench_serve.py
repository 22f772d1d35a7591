"""The sampling server under load: the API and the page's endpoint, dynamic batching on and off, against the compute
floor, all measured in one run.

Each configuration is the real ``ganzoo serve`` in a subprocess (127.0.0.1, a free port, the store of this run),
exactly as a user starts it, with ``--max-batch 256`` (batching on) or ``--max-batch 1`` (off) and otherwise its
defaults (``--concurrency 2``: two compute slots, one torch thread each on two cores). Against each server:

- **api**: ``--clients`` client processes, each an ``httpx.Client`` (keep-alive) posting
  ``{"n": 64, "seed": S}`` to ``/api/v1/models/REF/samples`` one request after another, ``--requests`` in all;
- **page**: the same load through the page's ``/generate`` endpoint with ``gradio_client`` (what a page user's
  Generate button does: Gradio's queue, then the PNG fetched from Gradio's file route).

A request's latency is the client's wall time until the whole PNG is in hand. Seeds differ per request. One
warm-up request per door loads the model first. The **floor** is the same work with no server: the same 64
samples drawn and the same PNG encoded in this process, one request after another, on one torch thread; beside it
the same requests from ``--clients`` threads of this process at once (the cores' queueing without a server: 4
callers on 2 cores wait for each other, so no server can answer them as fast as one caller alone).

Without ``--model`` the script trains a DCGAN (width 64, the architecture's default) with wgan-gp on scikit-learn's
digits for 2 steps into a temporary store: barely trained, but sampling costs what a trained one of that size costs.

    .venv/bin/python benchmarks/bench_serve.py                        # the comparison, ~2 minutes
    .venv/bin/python benchmarks/bench_serve.py --repeat 5             # 5 comparisons and the ratios' median
    .venv/bin/python benchmarks/bench_serve.py --soak 600 --rate 20   # 10 minutes at 20 requests/s: RSS, errors

Exit status 1 if any request failed.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness import timed_calls

PNG = b"\x89PNG\r\n\x1a\n"
READY = "ready"  # a client's first message: imported and connected
TARGET_P95_OVER_FLOOR, TARGET_API_OVER_PAGE = 4.0, 2.5
RSS_EVERY_S = 10  # the soak samples the server's resident memory this often


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class Result:
    label: str
    latencies: list[float]
    errors: list[str]
    wall: float
    batches: int | None = None
    computed: int | None = None
    cpu: float | None = None  # CPU seconds the server (or the floor's process) used for these requests

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.wall

    def row(self) -> str:
        lat = self.latencies
        batching = f"{self.computed / self.batches:5.2f}" if self.batches else "    -"
        cpu = f"{self.cpu / len(lat) * 1000:5.1f} ms" if self.cpu is not None else "      -"
        p50, p95 = percentile(lat, 50) * 1000, percentile(lat, 95) * 1000
        return (f"  {self.label:<22} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms"
                f"   max {max(lat) * 1000:7.1f} ms   {self.throughput:6.1f} req/s   errors {len(self.errors):3d}"
                f"   requests per forward pass {batching}   CPU per request {cpu}")


# --- clients (separate processes, so that clients and server share no GIL) ------------------------------------


def api_client(url: str, model: str, n: int, seeds: list[int], start: object, results: object,
               interval: float) -> None:
    import httpx

    def call(seed: int) -> str | None:
        response = client.post(f"api/v1/models/{model}/samples", json={"n": n, "seed": seed})
        ok = response.status_code == 200 and response.content[:8] == PNG
        return None if ok else f"HTTP {response.status_code}: {response.text[:200]}"

    with httpx.Client(base_url=url, timeout=120) as client:
        results.put(READY)
        start.wait()
        for outcome in timed_calls(call, seeds, interval):
            results.put(outcome)


def page_client(url: str, model: str, n: int, seeds: list[int], start: object, results: object,
                interval: float, downloads: str) -> None:
    from ganzoo.serve.offline import offline_environment

    offline_environment()
    from gradio_client import Client

    def call(seed: int) -> str | None:
        path = Path(client.predict(model, seed, n, api_name="/generate"))
        error = None if path.read_bytes()[:8] == PNG else "not a PNG"
        path.unlink(missing_ok=True)
        return error

    client = Client(url, verbose=False, analytics_enabled=False, download_files=downloads)
    results.put(READY)
    start.wait()
    for outcome in timed_calls(call, seeds, interval):
        results.put(outcome)


def load(url: str, door: str, model: str, n: int, seeds: list[int], clients: int, tmp: Path,
         interval: float = 0.0) -> tuple[list[tuple[float, str | None]], float]:
    """``seeds`` requests split over ``clients`` processes; returns (latency, error) per request and the wall time."""
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    workers = []
    for i in range(clients):
        mine = seeds[i::clients]
        args = (url, model, n, mine, start, results, interval * clients)
        if door == "page":
            workers.append(context.Process(target=page_client, args=(*args, str(tmp / f"client{i}"))))
        else:
            workers.append(context.Process(target=api_client, args=args))
    for worker in workers:
        worker.start()
    for _ in workers:  # every client imported and connected
        assert results.get(timeout=300) == READY
    began = time.perf_counter()
    start.set()
    outcomes = [results.get(timeout=3600) for _ in seeds]
    wall = time.perf_counter() - began
    for worker in workers:
        worker.join()
    return outcomes, wall


# --- the server as a user starts it ------------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def ganzoo_serve(home: Path, tmp: Path, *options: str) -> Iterator[tuple[str, int]]:
    """`ganzoo serve --port P *options` over the store at ``home``; yields (URL, pid); SIGTERM at the end."""
    port = free_port()
    log = tmp / f"serve-{port}.log"
    env = {**os.environ, "GANZOO_HOME": str(home), "GRADIO_TEMP_DIR": str(tmp / "gradio-cache")}
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "ganzoo.cli", "serve", "--port", str(port), *options],
                                   env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + 300
        while True:
            if process.poll() is not None or time.time() > deadline:
                raise SystemExit(f"`ganzoo serve` did not start:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(url + "api/v1/stats", timeout=5):
                    break
            except OSError:
                time.sleep(0.5)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(60)


def stats(url: str) -> dict:
    import json

    with urllib.request.urlopen(url + "api/v1/stats", timeout=30) as response:
        return json.loads(response.read())


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time process ``pid`` has used, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(url: str, pid: int, door: str, label: str, model: str, args: argparse.Namespace, tmp: Path) -> Result:
    before, cpu_before = stats(url), cpu_seconds(pid)
    outcomes, wall = load(url, door, model, args.n, list(range(1, args.requests + 1)), args.clients, tmp)
    cpu, after = cpu_seconds(pid) - cpu_before, stats(url)
    return Result(label, [t for t, _ in outcomes], [e for _, e in outcomes if e], wall,
                  after["batches"] - before["batches"], after["computed"] - before["computed"], cpu)


def warm(url: str, model: str, n: int, tmp: Path) -> None:
    import httpx

    from ganzoo.serve.offline import offline_environment

    offline_environment()
    from gradio_client import Client

    assert httpx.post(f"{url}api/v1/models/{model}/samples", json={"n": n}, timeout=300).status_code == 200
    Client(url, verbose=False, analytics_enabled=False, download_files=str(tmp / "warm")).predict(
        model, 0, n, api_name="/generate")


# --- the floor: the same work, no server ---------------------------------------------------------------------------


def floor(store: object, model: str, args: argparse.Namespace) -> tuple[Result, Result]:
    """(one caller: the issue's floor, requests one after another; ``--clients`` callers at once: the same
    requests from that many threads of this process, i.e. what queueing on the cores costs without a server)."""
    from concurrent.futures import ThreadPoolExecutor

    import torch

    from ganzoo.runs.allocator import keep_freed_memory
    from ganzoo.runs.plots import image_grid_png
    from ganzoo.store.loading import load_generator

    torch.set_num_threads(1)
    keep_freed_memory()  # as `ganzoo serve` does
    generator = load_generator(model, store=store)
    image_grid_png(generator.sample(args.n, seed=0))

    def call(seed: int) -> None:
        image_grid_png(generator.sample(args.n, seed=seed))

    def run(label: str, callers: int) -> Result:
        seeds = list(range(1, args.requests + 1))
        began, cpu_before = time.perf_counter(), time.process_time()
        with ThreadPoolExecutor(callers) as pool:
            parts = pool.map(lambda i: list(timed_calls(call, seeds[i::callers])), range(callers))
            outcomes = [outcome for part in parts for outcome in part]
        return Result(label, [t for t, _ in outcomes], [e for _, e in outcomes if e], time.perf_counter() - began,
                      cpu=time.process_time() - cpu_before)

    return run("floor (in-process)", 1), run(f"floor, {args.clients} callers", args.clients)


def make_model(root: Path, width: int) -> tuple[object, str]:
    from ganzoo.api import train
    from ganzoo.store import ModelStore

    store = ModelStore(root / "home")
    train("dcgan", "wgan-gp", "digits", out=root / "run", sets={"width": width}, steps=2, batch_size=16,
          sample_every=2, checkpoint_every=2, progress=False, echo=lambda _: None, name="bench-dcgan", store=store)
    return store, "bench-dcgan"


@dataclass
class Verdict:
    p95_over_floor: float
    p95_over_callers: float  # over the p95 of the floor's clients-many callers at once in-process
    api_over_page: float
    errors: int


def compare(store: object, model: str, args: argparse.Namespace, tmp: Path) -> Verdict:
    load_at_start = os.getloadavg()
    alone, together = floor(store, model, args)
    results = {"floor": alone, "floor-together": together}
    wait = [] if args.max_wait_ms is None else ["--max-wait-ms", str(args.max_wait_ms)]
    for batching, max_batch in (("on", 256), ("off", 1)):
        with ganzoo_serve(store.home, tmp, "--max-batch", str(max_batch), *wait,
                          "--concurrency", str(args.concurrency)) as (url, pid):
            warm(url, model, args.n, tmp)
            for door in ("api", "page"):
                results[f"{door}-{batching}"] = measure(url, pid, door, f"{door}, batching {batching}", model, args,
                                                        tmp)
    loads = " -> ".join("/".join(f"{x:.2f}" for x in load) for load in (load_at_start, os.getloadavg()))
    print(f"bench_serve: {args.requests} requests for {args.n} samples of {model} from {args.clients} concurrent "
          f"clients; `ganzoo serve --concurrency {args.concurrency} {' '.join(wait)}`, batching on "
          f"(--max-batch 256) and off (--max-batch 1); floor: the same samples and PNGs in-process, 1 torch thread, "
          f"one caller and {args.clients} at once; "
          f"load average (1/5/15 min) {loads}")
    for result in results.values():
        print(result.row())
    base = statistics.median(results["floor"].latencies)
    on, off = results["api-on"], results["api-off"]
    p95_ratio = percentile(on.latencies, 95) / base
    rate_ratio = on.throughput / results["page-on"].throughput
    print(f"  API p95 / floor p50: {p95_ratio:.2f}x (target <= {TARGET_P95_OVER_FLOOR:g}x: "
          f"{'met' if p95_ratio <= TARGET_P95_OVER_FLOOR else 'NOT met'})")
    over_callers = percentile(on.latencies, 95) / percentile(together.latencies, 95)
    print(f"  API p95 / p95 of the floor's {args.clients} callers at once in-process: {over_callers:.2f}x (what the "
          f"server adds to queueing on the cores)")
    print(f"  API req/s / page req/s (batching on): {rate_ratio:.2f}x (target >= {TARGET_API_OVER_PAGE:g}x: "
          f"{'met' if rate_ratio >= TARGET_API_OVER_PAGE else 'NOT met'})")
    print(f"  batching on / off: API {on.throughput / off.throughput:.2f}x req/s, p95 "
          f"{percentile(on.latencies, 95) / percentile(off.latencies, 95):.2f}x; page "
          f"{results['page-on'].throughput / results['page-off'].throughput:.2f}x req/s")
    errors = [e for r in results.values() for e in r.errors]
    if errors:
        print(f"  first error: {errors[0]}")
    return Verdict(p95_ratio, over_callers, rate_ratio, len(errors))


def summary(verdicts: list[Verdict]) -> None:
    """The median, range and count of met targets over repeated comparisons."""
    def line(label: str, values: list[float], target: str = "", met: int = 0) -> None:
        verdict = f", target {target} met in {met} of {len(values)} runs" if target else ""
        print(f"  {label}: median {statistics.median(values):.2f}x (range {min(values):.2f}x-{max(values):.2f}x)"
              f"{verdict}")

    print(f"bench_serve over {len(verdicts)} runs:")
    ratios = [v.p95_over_floor for v in verdicts]
    line("API p95 / floor p50", ratios, f"<= {TARGET_P95_OVER_FLOOR:g}x",
         sum(r <= TARGET_P95_OVER_FLOOR for r in ratios))
    line("API p95 / p95 of the floor's callers at once", [v.p95_over_callers for v in verdicts])
    rates = [v.api_over_page for v in verdicts]
    line("API req/s / page req/s", rates, f">= {TARGET_API_OVER_PAGE:g}x",
         sum(r >= TARGET_API_OVER_PAGE for r in rates))
    print(f"  errors: {sum(v.errors for v in verdicts)}")


def soak(store: object, model: str, args: argparse.Namespace, tmp: Path) -> int:
    count = int(args.soak * args.rate)
    with ganzoo_serve(store.home, tmp, "--concurrency", str(args.concurrency)) as (url, pid):
        warm(url, model, args.n, tmp)
        start_rss, cpu_before = rss_mib(pid), cpu_seconds(pid)
        samples_rss: list[float] = []
        from threading import Event, Thread

        done = Event()

        def watch() -> None:
            while not done.wait(RSS_EVERY_S):
                samples_rss.append(rss_mib(pid))

        watcher = Thread(target=watch, daemon=True)
        watcher.start()
        outcomes, wall = load(url, "api", model, args.n, list(range(1, count + 1)), args.clients, tmp,
                              interval=1 / args.rate)
        done.set()
        end_rss, cpu = rss_mib(pid), cpu_seconds(pid) - cpu_before
        final = stats(url)
    result = Result("api soak", [t for t, _ in outcomes], [e for _, e in outcomes if e], wall,
                    final["batches"], final["computed"], cpu)
    print(f"bench_serve soak: {count} API requests for {args.n} samples of {model} at {args.rate:g} requests/s "
          f"from {args.clients} clients over {wall:.0f} s")
    print(result.row())
    print(f"  server RSS: start {start_rss:.0f} MiB, end {end_rss:.0f} MiB, max {max(samples_rss + [end_rss]):.0f} "
          f"MiB (sampled every {RSS_EVERY_S} s); change {end_rss - start_rss:+.0f} MiB")
    every = max(1, len(samples_rss) // 10)
    print("  RSS over the soak (MiB): " + ", ".join(f"{(i + 1) * RSS_EVERY_S} s {rss:.0f}"
                                                for i, rss in enumerate(samples_rss) if (i + 1) % every == 0))
    if result.errors:
        print(f"  first error: {result.errors[0]}")
    return 1 if result.errors else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a model of the store at GANZOO_HOME [default: train a 2-step DCGAN]")
    parser.add_argument("--width", type=int, default=64, help="DCGAN width when training one [default: 64]")
    parser.add_argument("--requests", type=int, default=200, help="requests per door and setting [default: 200]")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--n", type=int, default=64, help="samples per request")
    parser.add_argument("--concurrency", type=int, default=2, help="the server's compute slots [default: 2]")
    parser.add_argument("--max-wait-ms", type=float, default=None,
                        help="the batcher's opt-in linger [default: the server's, 0]")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run the comparison this many times and print the ratios' median [default: 1]")
    parser.add_argument("--soak", type=float, default=0, help="instead: a soak of this many seconds at --rate")
    parser.add_argument("--rate", type=float, default=20.0, help="soak requests per second [default: 20]")
    args = parser.parse_args()

    from ganzoo.store import ModelStore

    with tempfile.TemporaryDirectory(prefix="bench-serve-") as name:
        tmp = Path(name)
        if args.model:
            store, model = ModelStore(), args.model
        else:
            began = time.perf_counter()
            store, model = make_model(tmp, args.width)
            print(f"trained a 2-step dcgan (width {args.width}) on digits in {time.perf_counter() - began:.1f} s",
                  file=sys.stderr)
        model = store.get(model).ref
        if args.soak:
            return soak(store, model, args, tmp)
        verdicts = [compare(store, model, args, tmp) for _ in range(args.repeat)]
        if args.repeat > 1:
            summary(verdicts)
        return 1 if any(v.errors for v in verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
