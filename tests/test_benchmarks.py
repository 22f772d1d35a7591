"""The training-speed benchmark compares like with like: its reference loop trains what ganzoo's plugins train.

benchmarks/bench_training.py is a script, not a timed test; these tests check that its reference loop's inline
losses equal ganzoo's loss plugins (so a speed ratio compares the same training), that its guards fire, and that
the driver runs end to end on a tiny budget.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from data_support import needs_fashion

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_training.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_training", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_reference_losses_equal_the_loss_plugins(bench, arch):
    cases = [(arch, loss) for loss in bench.PAPER]
    lines = bench.check_losses(cases, "cpu")
    assert len(lines) == len(cases)
    assert all("==" in line for line in lines)


def test_loss_check_fails_when_the_reference_differs(bench, monkeypatch):
    monkeypatch.setitem(bench.PAPER, "wgan-gp", {**bench.PAPER["wgan-gp"], "lambda": 5.0})
    with pytest.raises(SystemExit, match="reference loss differs"):
        bench.check_losses([("mlp", "wgan-gp")], "cpu")


def test_paper_settings_guard_rejects_a_changed_default(bench):
    config, _, _ = bench.resolved_config("mlp", "wgan", "cpu")
    bench.check_paper_settings(config, "wgan")
    config.lr = 1e-4
    with pytest.raises(SystemExit, match="not comparable"):
        bench.check_paper_settings(config, "wgan")


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
