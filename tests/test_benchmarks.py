"""The training-speed benchmark compares like with like: its reference loop trains what ganzoo's plugins train.

benchmarks/bench_training.py is a script, not a timed test; it composes benchmarks/reference_gan.py (the reference
loop) and benchmarks/training_cases.py (a case as ganzoo resolves it). These tests check that the reference loop's
inline losses equal ganzoo's loss plugins (so a speed ratio compares the same training), that its guards fire, and
that the driver runs end to end on a tiny budget.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest
from bench_support import BENCHMARKS, load_script
from data_support import needs_fashion

BENCH = BENCHMARKS / "bench_training.py"


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    """benchmarks/bench_training.py loaded as the script runs: its sibling modules importable by name."""
    yield from load_script("bench_training")


@pytest.fixture(scope="module")
def reference_gan(bench: ModuleType) -> ModuleType:
    return bench.reference_gan


@pytest.fixture(scope="module")
def cases(bench: ModuleType) -> ModuleType:
    return bench.training_cases


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_reference_losses_equal_the_loss_plugins(reference_gan, cases, arch):
    arch_cases = [(arch, loss) for loss in reference_gan.PAPER]
    lines = cases.check_losses(arch_cases, "cpu")
    assert len(lines) == len(arch_cases)
    assert all("==" in line for line in lines)


def test_loss_check_fails_when_the_reference_differs(reference_gan, cases, monkeypatch):
    monkeypatch.setitem(reference_gan.PAPER, "wgan-gp", {**reference_gan.PAPER["wgan-gp"], "lambda": 5.0})
    with pytest.raises(SystemExit, match="reference loss differs"):
        cases.check_losses([("mlp", "wgan-gp")], "cpu")


def test_paper_settings_guard_rejects_a_changed_default(reference_gan, cases):
    config, _, _ = cases.resolved_config("mlp", "wgan", "cpu")
    reference_gan.check_paper_settings(config, "wgan")
    config.lr = 1e-4
    with pytest.raises(SystemExit, match="not comparable"):
        reference_gan.check_paper_settings(config, "wgan")


@pytest.mark.slow  # ~15 s: three Python processes each import torch
@needs_fashion
def test_driver_runs_end_to_end(tmp_path):
    cmd = [sys.executable, str(BENCH), "--cases", "mlp:non-saturating", "--steps", "2", "--repeats", "2",
           "--warmup", "1", "--workers", "0", "--no-check", "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    (row,) = result["summary"]
    assert (row["case"], row["reference_workers"], row["steps"], row["rounds"]) == ("mlp+non-saturating", 0, 2, 2)
    assert row["ratio_median"] > 0 and row["cpu_ratio_median"] > 0
    assert len(result["blocks"]) == 4 and all(b["cpu_s"] > 0 and b["time_s"] > 0 for b in result["blocks"])
    for process in result["processes"]:
        assert process["peak_rss_mib"] >= process["baseline_rss_mib"] > 0
