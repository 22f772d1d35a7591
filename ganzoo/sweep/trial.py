"""One trial, in whatever process an executor runs it: an ordinary ganzoo run in the trial's own run folder
(trained through :mod:`ganzoo.api`, resumed from its checkpoint when it was started before), then evaluated with the
sweep's metrics (default: the data set's) into the folder's results.json. The driver stores it in the model store.

A trial whose sweep folder this machine cannot see (a Ray worker on another node) runs in a folder of this
machine's cache and sends its run folder back in the report, packed; on a retry on the same node it resumes there.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import tarfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganzoo.errors import GanzooError
from ganzoo.sweep.spec import Trial
from ganzoo.sweep.state import FAILED, FINISHED

INTERRUPTED = "interrupted"
WORKER_FILE = "worker.json"  # in a running trial's folder: which process trains it (pid, host, since)
REMOTE_CACHE = Path("~/.cache/ganzoo/sweeps")


@dataclass(frozen=True)
class TrialTask:
    """What a worker needs to run one trial (picklable)."""

    sweep_id: str
    trial: Trial
    steps: int
    run_dir: str  # in the sweep folder of the driver's machine
    sweep_dir: str
    metrics: tuple[str, ...] = ()
    device: str = "auto"
    eval_n: int | None = None

    @property
    def trial_id(self) -> str:
        return self.trial.trial_id


@dataclass
class TrialReport:
    """What a trial came to, sent back to the driver."""

    trial_id: str
    status: str  # finished | failed | interrupted
    error: str | None = None
    steps: int = 0
    wall_time_s: float | None = None
    results: list[dict[str, Any]] = field(default_factory=list)
    resumed_from: int | None = None  # the checkpoint step it continued from, when it was started before
    where: str = ""
    archive: bytes | None = None  # the packed run folder, when it ran where the sweep folder is not


def run_trial(task: TrialTask) -> TrialReport:
    """Train (or resume) and evaluate ``task``'s trial; every failure becomes a failed report, never an exception."""
    from ganzoo.api import resume, train
    from ganzoo.eval.engine import evaluate_run
    from ganzoo.plugin.loading import get_registry
    from ganzoo.runs.checkpoint import latest_checkpoint_step

    where = f"{socket.gethostname()}:{os.getpid()}"
    remote = not Path(task.sweep_dir).is_dir()
    run_dir = (REMOTE_CACHE.expanduser() / task.sweep_id / task.trial_id) if remote else Path(task.run_dir)
    report = TrialReport(task.trial_id, FAILED, where=where)
    trial = task.trial
    try:
        registry = get_registry()
        at = latest_checkpoint_step(run_dir / "checkpoints") if (run_dir / "config.json").exists() else None
        if at is None and run_dir.exists():
            shutil.rmtree(run_dir)  # started, but stopped before its first checkpoint: start it over
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / WORKER_FILE).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                                       "since": time.time()}))
        quiet = _discard
        if at is None:
            result = train(trial.arch, trial.loss, trial.dataset, out=run_dir, sets=trial.settings, steps=task.steps,
                           seed=trial.seed, device=task.device, register=False, progress=False, echo=quiet,
                           registry=registry)
        else:
            report.resumed_from = at
            result = resume(run_dir, device=task.device, progress=False, echo=quiet, registry=registry)
        report.steps = result.step
        report.wall_time_s = float(result.last.get("time", 0.0)) if result.last else None
        if result.interrupted:
            report.status = INTERRUPTED
            return report
        evaluation = evaluate_run(run_dir, list(task.metrics) or None, save=True, device=task.device,
                                  registry=registry, **({"n": task.eval_n} if task.eval_n else {}))
        report.results, report.status = evaluation.results, FINISHED
    except KeyboardInterrupt:  # stopped before its trainer could take the request (e.g. while building)
        report.status = INTERRUPTED
    except GanzooError as exc:
        report.error = exc.message
    except Exception as exc:  # a crash inside a plugin or torch: the trial fails, the sweep goes on
        report.error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-3)}".strip()
    finally:
        (run_dir / WORKER_FILE).unlink(missing_ok=True)
    if remote and report.status == FINISHED:
        report.archive = pack(run_dir)
    return report


def _discard(_: str) -> None:
    pass


def pack(run_dir: Path) -> bytes:
    """The run folder as a gzipped tar (checkpoints but the newest left out: the store needs only that one)."""
    from ganzoo.runs.checkpoint import latest_checkpoint_step

    newest = latest_checkpoint_step(run_dir / "checkpoints")
    keep = f"step_{newest:07d}" if newest is not None else None
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(run_dir.rglob("*")):
            relative = path.relative_to(run_dir)
            if path.is_symlink() or not path.is_file():
                continue
            if relative.parts[0] == "checkpoints" and keep and not path.name.startswith(keep) \
                    and path.name != "latest.json":
                continue
            tar.add(path, arcname=relative.as_posix())
    return buffer.getvalue()


def unpack(archive: bytes, run_dir: Path) -> None:
    """A packed run folder into ``run_dir`` (replacing what was there); members outside it are refused."""
    staging = run_dir.with_name(f".{run_dir.name}.incoming")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        for member in tar.getmembers():
            target = (staging / member.name).resolve()
            if not member.isfile() or not target.is_relative_to(staging.resolve()):
                raise GanzooError(f"the run folder sent back for {run_dir.name} holds {member.name!r}, which is not "
                                  "a plain file inside it")
        tar.extractall(staging, filter="data")
    if run_dir.exists():
        shutil.rmtree(run_dir)
    os.rename(staging, run_dir)
