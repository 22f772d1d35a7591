"""benchmarks/bench_serve.py's measuring parts: percentiles, the CPU a process used, the two floors, and the summary
of repeated comparisons (the servers themselves are exercised by tests/test_server.py)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from bench_support import load_script


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    yield from load_script("bench_serve")


def test_percentiles_interpolate_between_closest_ranks(bench):
    values = [4.0, 1.0, 3.0, 2.0, 5.0]
    assert bench.percentile(values, 0) == 1.0 and bench.percentile(values, 100) == 5.0
    assert bench.percentile(values, 50) == 3.0
    assert bench.percentile(values, 95) == pytest.approx(4.8)


def test_cpu_seconds_counts_what_a_process_burns(bench):
    before = bench.cpu_seconds(os.getpid())
    total = sum(i * i for i in range(3_000_000))
    assert total > 0 and bench.cpu_seconds(os.getpid()) > before


def test_the_floors_run_the_same_requests_alone_and_side_by_side(bench, tmp_path: Path):
    store, model = bench.make_model(tmp_path, 8)
    args = argparse.Namespace(n=16, requests=6, clients=3)
    alone, together = bench.floor(store, store.get(model).ref, args)
    for result in (alone, together):
        assert len(result.latencies) == 6 and not result.errors
        assert all(t > 0 for t in result.latencies) and result.cpu is not None and result.cpu > 0
    assert "3 callers" in together.label and "CPU per request" in together.row()


def test_the_summary_counts_the_runs_that_met_each_target(bench, capsys):
    verdicts = [bench.Verdict(3.5, 1.1, 5.0, 0), bench.Verdict(4.5, 1.2, 2.0, 0), bench.Verdict(3.9, 1.3, 3.0, 1)]
    bench.summary(verdicts)
    out = capsys.readouterr().out
    assert "API p95 / floor p50: median 3.90x (range 3.50x-4.50x), target <= 4x met in 2 of 3 runs" in out
    assert "median 1.20x" in out
    assert "API req/s / page req/s: median 3.00x (range 2.00x-5.00x), target >= 2.5x met in 2 of 3 runs" in out
    assert "errors: 1" in out
