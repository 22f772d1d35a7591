"""Sweeps on the local executor: every trial an ordinary run stored with the sweep's id, a diverging trial recorded
as failed while the others go on, the same sweep again trains nothing, and a driver killed by SIGKILL mid-sweep
continues where it stopped (no finished trial trained again, unfinished ones resumed, no duplicate in the store)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from ganzoo.errors import GanzooError
from ganzoo.store import ModelStore
from ganzoo.sweep import load_outcomes, run_sweep
from ganzoo.sweep.state import SweepState
from ganzoo.sweep.trial import WORKER_FILE

TINY = {"hidden": 8, "layers": 2, "batch_size": 32}


def test_a_two_worker_sweep_stores_every_trial_and_a_diverging_trial_fails_alone(tmp_path: Path,
                                                                                  ganzoo_home: Path) -> None:
    values = {"name": "local", "loss": "ns,minimax", "arch": "mlp", "dataset": "gaussians8", "seeds": "0-1",
              "steps": 20, "metrics": ["w1"], "set": TINY,
              # real data of infinities: the minimax trials diverge at their first logged step
              "loss_set": {"minimax": {"dataset.radius": 1e300}}}
    lines: list[str] = []
    result = run_sweep(values, executor_options={"workers": 2}, out=tmp_path / "sweep", eval_n=200,
                       echo=lines.append)
    by_id = {o.trial_id: o for o in result.outcomes}
    assert [o.trial_id for o in result.outcomes] == ["non-saturating.mlp.s0.t0", "non-saturating.mlp.s1.t0",
                                                     "minimax.mlp.s0.t0", "minimax.mlp.s1.t0"]
    for trial_id in ("minimax.mlp.s0.t0", "minimax.mlp.s1.t0"):
        failed = by_id[trial_id]
        assert failed.status == "failed" and "diverged at step" in failed.error and failed.model_ref is None
    store = ModelStore()
    stored = store.list(sweep=result.sweep_id)
    assert len(stored) == 2 and len(store.list()) == 2
    for outcome in (by_id["non-saturating.mlp.s0.t0"], by_id["non-saturating.mlp.s1.t0"]):
        assert outcome.status == "finished" and outcome.steps == 20 and outcome.error is None
        assert outcome.sweep_id == result.sweep_id and outcome.settings == TINY
        assert set(outcome.metrics) == {"w1"} and outcome.metrics["w1"] > 0
        record = store.get(outcome.model_ref)
        labels = record.config["labels"]
        assert labels == {"sweep": result.sweep_id, "trial": outcome.trial_id, "seed": outcome.seed,
                          "settings": TINY}
        assert record.config["train_config"]["seed"] == outcome.seed
        assert (outcome.run_dir / "metrics.jsonl").is_file() and any((outcome.run_dir / "samples").iterdir())
        assert outcome.wall_time_s is not None and outcome.wall_time_s > 0
    assert any("finished non-saturating.mlp.s0.t0" in line for line in lines)
    assert any("FAILED minimax.mlp.s0.t0" in line and "diverged" in line for line in lines)
    assert load_outcomes(result.sweep_id) == result.outcomes  # by id, through GANZOO_HOME's pointer

    again: list[str] = []  # the same sweep again: nothing to train, nothing stored twice
    second = run_sweep(values, executor_options={"workers": 2}, out=tmp_path / "sweep", echo=again.append)
    assert "0 to run" in again[0] and second.outcomes == result.outcomes and len(store.list()) == 2


def test_a_diverging_run_stops_with_the_step_it_diverged_at(tmp_path: Path) -> None:
    from ganzoo.api import train

    with pytest.raises(GanzooError, match=r"diverged at step \d+: a loss is not finite"):  # NaN: null in the log
        train("mlp", "minimax", "gaussians8", out=tmp_path / "run", sets={**TINY, "radius": 1e300}, steps=20,
              progress=False, echo=lambda _: None, register=False)


def test_an_unknown_sweep_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(GanzooError, match="unknown sweep 'nothing-1234'"):
        load_outcomes("nothing-1234")
    with pytest.raises(GanzooError, match="unknown sweep"):
        load_outcomes(tmp_path)


def test_bad_input_is_refused_before_any_trial_starts(tmp_path: Path) -> None:
    out = tmp_path / "never"
    for args, words in ((["--loss", "all", "--set", "lambda=5"], "unknown setting 'lambda'"),
                        (["--loss", "wgan", "--executor", "rayy"], "did you mean 'ray'"),
                        (["--loss", "wgan", "--seeds", "4-2"], "empty grid")):
        done = _ganzoo("sweep", "--arch", "mlp", "--dataset", "gaussians8", "--out", str(out), *args)
        assert done.returncode == 2 and words in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert not out.exists()


def _ganzoo(*args: str, **kwargs: object) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "ganzoo", *args], capture_output=True, text=True, env=env,
                          timeout=600, **kwargs)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_driver_killed_mid_sweep_continues_where_it_stopped(tmp_path: Path, ganzoo_home: Path) -> None:
    out = tmp_path / "sweep"
    command = [sys.executable, "-m", "ganzoo", "sweep", "--arch", "mlp", "--loss", "ns", "--dataset", "gaussians8",
               "--seeds", "0-2", "--steps", "150", "--set", "hidden=8", "--set", "layers=2", "--set",
               "checkpoint_every=10", "--metric", "w1", "--workers", "2", "--out", str(out), "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    driver = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    try:
        while True:  # wait for one finished trial and another that is running past a checkpoint
            assert driver.poll() is None, driver.communicate()
            assert time.monotonic() < deadline, "the sweep made no progress"
            rows = SweepState.open(out).rows() if (out / "state.sqlite").exists() else []
            done = [r for r in rows if r.status == "finished"]
            running = [r for r in rows if r.status == "running" and (r.run_dir / "checkpoints" / "latest.json")
                       .exists() and (r.run_dir / WORKER_FILE).exists()]
            if done and running:
                break
            time.sleep(0.2)
        workers = [json.loads((r.run_dir / WORKER_FILE).read_text())["pid"] for r in running]
        driver.send_signal(signal.SIGKILL)
        driver.communicate()
    finally:
        if driver.poll() is None:
            driver.kill()
    for pid in workers:  # the workers die with their driver: no trial trains twice at once
        for _ in range(100):
            if not _alive(pid):
                break
            time.sleep(0.1)
        assert not _alive(pid), f"worker {pid} outlived its killed driver"
    finished = {r.trial_id: (r.model_ref, _digest(r.run_dir / "metrics.jsonl")) for r in done}

    rerun = subprocess.run(command[:-1], env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    rows = {r.trial_id: r for r in SweepState.open(out).rows()}
    assert all(r.status == "finished" for r in rows.values()), rows
    for trial_id, (ref, digest) in finished.items():  # not trained again
        assert rows[trial_id].model_ref == ref and _digest(rows[trial_id].run_dir / "metrics.jsonl") == digest
    resumed = [r for r in rows.values() if r.trial_id in {x.trial_id for x in running}]
    assert resumed and all(r.resumed_from and r.resumed_from >= 10 for r in resumed), resumed
    for row in resumed:  # one line per step: the steps after the checkpoint were trained once, not twice
        steps = [json.loads(line)["step"] for line in (row.run_dir / "metrics.jsonl").read_text().splitlines()]
        assert steps == list(range(1, 151))
    stored = ModelStore().list(sweep=SweepState.open(out).sweep_id)
    assert sorted(r.config["labels"]["trial"] for r in stored) == sorted(rows)  # each trial once


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (dead, not yet reaped) counts as dead
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except OSError:
        return False


def test_an_executor_plugin_registered_through_register_executors_runs_a_sweep(tmp_path: Path,
                                                                             serial_registry) -> None:
    registry = serial_registry  # the built-ins + tests/plugin_support.py's `serial` executor plugin
    result = run_sweep({"loss": "ns", "arch": "mlp", "dataset": "gaussians8", "steps": 10, "set": TINY,
                        "metrics": ["w1"]}, executor="serial", out=tmp_path / "sweep", eval_n=100,
                       registry=registry, echo=lambda _: None)
    [outcome] = result.outcomes
    assert outcome.status == "finished" and outcome.model_ref and outcome.metrics["w1"] > 0
    assert SweepState.open(tmp_path / "sweep").row(outcome.trial_id).worker == "in the driver"


def test_the_ray_executor_without_ray_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from ganzoo.sweep.executors.ray import RayExecutor

    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(GanzooError, match=r"needs Ray, which is not installed") as caught:
        RayExecutor().run([object()], print, None)  # type: ignore[arg-type]
    assert "pip install 'ganzoo[ray]'" in str(caught.value)


@dataclass(frozen=True)
class _Task:
    trial_id: str
    marker: str


def _die_the_first_time(task: _Task) -> str:
    """Work whose process is killed (SIGKILL) the first time it runs a task."""
    marker = Path(task.marker)
    if not marker.exists():
        marker.write_text("died once")
        os.kill(os.getpid(), signal.SIGKILL)
    return f"done {task.trial_id}"


class _Events:
    def __init__(self) -> None:
        self.log: list[tuple[str, str, str]] = []

    def started(self, task: _Task, where: str) -> None:
        self.log.append(("started", task.trial_id, where))

    def finished(self, task: _Task, report: str) -> None:
        self.log.append(("finished", task.trial_id, report))

    def lost(self, task: _Task, error: str) -> None:
        self.log.append(("lost", task.trial_id, error))


def test_a_killed_local_worker_is_replaced_and_its_task_run_again_then_lost(tmp_path: Path) -> None:
    from ganzoo.sweep.executors.local import LocalExecutor

    events = _Events()
    LocalExecutor(workers=1, retries=1).run([_Task("a", str(tmp_path / "a"))], _die_the_first_time, events)
    assert events.log == [("started", "a", "worker 1"), ("started", "a", "worker 1"), ("finished", "a", "done a")]
    events = _Events()
    LocalExecutor(workers=1, retries=0).run([_Task("b", str(tmp_path / "b"))], _die_the_first_time, events)
    assert events.log == [("started", "b", "worker 1"),
                          ("lost", "b", "the worker process running it died (killed by SIGKILL)")]
