"""The ray executor against a real local Ray cluster started here (2 CPUs, no dashboard, no usage statistics):
a tiny sweep runs through it with a Ray worker process killed mid-trial; the trial is retried and resumes from its
checkpoint, the sweep finishes, every trial is stored once in this machine's store."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="Ray is installed by scripts/setup.sh (pip install 'ganzoo[ray]')")

from ganzoo.store import ModelStore  # noqa: E402
from ganzoo.sweep import run_sweep  # noqa: E402
from ganzoo.sweep.state import SweepState  # noqa: E402
from ganzoo.sweep.trial import WORKER_FILE  # noqa: E402

STEPS = 120


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield
    finally:
        ray.shutdown()


def _kill_first_worker_after_a_checkpoint(out: Path, killed: dict[str, object]) -> None:
    """SIGKILL the Ray worker process of the first trial that has a checkpoint and is still training."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        for folder in sorted((out / "trials").glob("*")) if (out / "trials").is_dir() else []:
            worker, latest = folder / WORKER_FILE, folder / "checkpoints" / "latest.json"
            try:
                if latest.exists() and worker.exists():
                    pid = json.loads(worker.read_text())["pid"]
                    os.kill(pid, signal.SIGKILL)
                    killed.update(trial=folder.name, pid=pid)
                    return
            except (OSError, ValueError, KeyError):
                continue
        time.sleep(0.1)


def test_a_sweep_runs_on_ray_and_survives_a_killed_worker(cluster: None, tmp_path: Path,
                                                          ganzoo_home: Path) -> None:
    out = tmp_path / "sweep"
    killed: dict[str, object] = {}
    killer = threading.Thread(target=_kill_first_worker_after_a_checkpoint, args=(out, killed), daemon=True)
    killer.start()
    lines: list[str] = []
    result = run_sweep({"name": "on-ray", "loss": "ns", "arch": "mlp", "dataset": "gaussians8", "seeds": "0-2",
                        "steps": STEPS, "metrics": ["w1"],
                        "set": {"hidden": 8, "layers": 2, "batch_size": 32, "checkpoint_every": 10}},
                       executor="ray", executor_options={"retries": 2}, out=out, eval_n=200, echo=lines.append)
    killer.join(timeout=5)
    assert killed, "no trial was caught running past a checkpoint"
    assert "ray: a local Ray cluster, 1 CPU per trial" in lines[0]
    assert [o.status for o in result.outcomes] == ["finished"] * 3, [o.error for o in result.outcomes]
    rows = {r.trial_id: r for r in SweepState.open(out).rows()}
    victim = rows[str(killed["trial"])]
    assert victim.resumed_from is not None and victim.resumed_from >= 10
    steps = [json.loads(line)["step"] for line in (victim.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, STEPS + 1))  # resumed: the steps after its checkpoint trained once
    stored = ModelStore().list(sweep=result.sweep_id)
    assert sorted(r.config["labels"]["trial"] for r in stored) == sorted(rows)  # every trial, once
    assert all(o.metrics["w1"] > 0 for o in result.outcomes)
