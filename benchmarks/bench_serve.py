"""Latency of the sampling page under load: 200 requests for 64 DCGAN samples from 4 concurrent clients.

The page (``ganzoo.serve.build_app``) runs in this process, served from a thread on a free port on 127.0.0.1, with
its default queue settings unless told otherwise. Each client is a separate process (so clients and server do not
share a GIL) holding one ``gradio_client.Client`` that calls ``/generate`` (model, seed, n=64) one request after
another; a request's latency is the wall time of its ``predict`` call (queueing, sampling, PNG encoding, transfer
and the client's download of the PNG). Seeds differ per request. One warm-up request loads the model first.

Output: p50 / p95 / max latency, throughput, the error count (must be 0; exit status 1 otherwise) and how often
the page loaded the generator (1: the LRU cache serves every request after the first).

Without ``--model`` the script trains a DCGAN (default width 64, the architecture's default) with wgan-gp on
scikit-learn's digits for 2 steps into a temporary store: the weights are barely trained, but sampling costs
the same as for a trained model of that size.

    .venv/bin/python benchmarks/bench_serve.py
    .venv/bin/python benchmarks/bench_serve.py --model dcgan-wgan-gp-fashion-mnist --clients 4 --requests 200
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def client_worker(url: str, model: str, n: int, seeds: list[int], downloads: str, start: object,
                  results: object) -> None:
    """One client process: wait for the start signal, then call /generate once per seed, one after another."""
    from ganzoo.serve.offline import offline_environment

    offline_environment()
    from gradio_client import Client

    client = Client(url, verbose=False, analytics_enabled=False, download_files=downloads)
    start.wait()
    for seed in seeds:
        began = time.perf_counter()
        try:
            client.predict(model, seed, n, api_name="/generate")
            results.put((time.perf_counter() - began, None))
        except Exception as exc:  # noqa: BLE001 - every failure counts as an error
            results.put((time.perf_counter() - began, f"{type(exc).__name__}: {exc}"))


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def make_model(root: Path, width: int) -> tuple[object, str]:
    from ganzoo.api import train
    from ganzoo.store import ModelStore

    store = ModelStore(root / "home")
    train("dcgan", "wgan-gp", "digits", out=root / "run", sets={"width": width}, steps=2, batch_size=16,
          sample_every=2, checkpoint_every=2, progress=False, echo=lambda _: None, name="bench-dcgan", store=store)
    return store, "bench-dcgan"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a model of the store at GANZOO_HOME [default: train a 2-step DCGAN]")
    parser.add_argument("--width", type=int, default=64, help="DCGAN width when training one [default: 64]")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--n", type=int, default=64, help="samples per request")
    parser.add_argument("--concurrency", type=int, default=None, help="page's --concurrency [default: page's]")
    parser.add_argument("--max-queue", type=int, default=None, help="page's --max-queue [default: page's]")
    parser.add_argument("--threads", type=int, default=1, help="torch threads in the server [default: 1]")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from ganzoo.serve.app import DEFAULT_CONCURRENCY, DEFAULT_MAX_QUEUE, build_app, serving
    from ganzoo.serve.service import SamplingService
    from ganzoo.store import ModelStore

    concurrency = args.concurrency or DEFAULT_CONCURRENCY
    max_queue = args.max_queue or DEFAULT_MAX_QUEUE
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        os.environ["GRADIO_TEMP_DIR"] = str(Path(tmp) / "gradio-cache")  # Gradio's file cache goes with the rest
        if args.model:
            store, model = ModelStore(), args.model
        else:
            began = time.perf_counter()
            store, model = make_model(Path(tmp), args.width)
            print(f"trained a 2-step dcgan (width {args.width}) on digits in {time.perf_counter() - began:.1f} s",
                  file=sys.stderr)
        record = store.get(model)
        service = SamplingService(store)
        app = build_app(service=service, max_queue=max_queue, concurrency=concurrency)
        with serving(app) as url:
            from gradio_client import Client

            warm = Client(url, verbose=False, analytics_enabled=False, download_files=str(Path(tmp) / "warm"))
            began = time.perf_counter()
            warm.predict(record.ref, 0, args.n, api_name="/generate")
            cold = time.perf_counter() - began

            context = multiprocessing.get_context("spawn")
            start, results = context.Event(), context.Queue()
            seeds = list(range(1, args.requests + 1))
            workers = [context.Process(target=client_worker,
                                       args=(url, record.ref, args.n, seeds[i::args.clients],
                                             str(Path(tmp) / f"client{i}"), start, results))
                       for i in range(args.clients)]
            for worker in workers:
                worker.start()
            time.sleep(0.5)
            began = time.perf_counter()
            start.set()
            outcomes = [results.get(timeout=1800) for _ in seeds]
            wall = time.perf_counter() - began
            for worker in workers:
                worker.join()
        loads, hits = service.generators.loads, service.generators.hits
        service.close()

    latencies = [t for t, _ in outcomes]
    errors = [e for _, e in outcomes if e is not None]
    shape = "x".join(str(d) for d in record.config["shape"])
    width = record.config["train_config"]["arch_options"].get("width")
    print(f"bench_serve: {len(seeds)} requests for {args.n} samples of {record.ref} ({record.arch} width {width}, "
          f"{shape}) from {args.clients} concurrent clients; page concurrency {concurrency}, queue {max_queue}, "
          f"torch threads {args.threads}")
    print(f"  latency  p50 {percentile(latencies, 50):.3f} s   p95 {percentile(latencies, 95):.3f} s   "
          f"max {max(latencies):.3f} s   mean {statistics.fmean(latencies):.3f} s")
    print(f"  throughput {len(seeds) / wall:.1f} requests/s over {wall:.1f} s; first (cold) request {cold:.3f} s")
    print(f"  errors {len(errors)}" + (f"  (first: {errors[0]})" if errors else ""))
    print(f"  generator loads {loads} (cache hits {hits}): weights loaded once, every later request served from "
          "the LRU cache" if loads == 1 else f"  generator loads {loads} (cache hits {hits})")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
