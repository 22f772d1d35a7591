"""The ``ray`` executor: every trial a Ray task on a Ray cluster, with ``cpus_per_trial`` / ``gpus_per_trial`` as its
resources.

``address``: ``"auto"`` (the cluster this machine belongs to), ``HOST:PORT`` or ``ray://HOST:PORT``; None starts a
local cluster for the sweep (``num_cpus`` CPUs, default all; no dashboard, no usage statistics) and stops it after.
No more tasks are submitted than the cluster's resources can run at once, so a trial reported as started is
running. A task whose worker process dies is retried by Ray (``retries``; the trial resumes from its checkpoint when
its folder is reachable) and then reported lost. Ray is optional: ``pip install 'ganzoo[ray]'``.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from ganzoo.errors import ConfigError, GanzooError
from ganzoo.plugin.executor import Executor, ExecutorEvents

INSTALL_HINT = "pip install 'ganzoo[ray]' (or pip install ray), or use --executor local"
STOP_GRACE_S = 120.0


def import_ray() -> Any:
    """The ``ray`` module, or a clear error saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise GanzooError(f"the ray executor needs Ray, which is not installed ({exc})", hint=INSTALL_HINT) from exc
    return ray


class RayExecutor(Executor):
    """See the module docstring."""

    name: ClassVar[str] = "ray"

    def __init__(self, address: str | None = None, cpus_per_trial: float = 1, gpus_per_trial: float = 0,
                 retries: int = 1, num_cpus: int | None = None) -> None:
        for key, value, low in (("cpus_per_trial", cpus_per_trial, 0), ("gpus_per_trial", gpus_per_trial, 0)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < low:
                raise ConfigError(f"ray executor: {key} must be a number >= {low}, got {value!r}")
        if cpus_per_trial == 0 and gpus_per_trial == 0:
            raise ConfigError("ray executor: a trial needs some resources (cpus_per_trial or gpus_per_trial > 0)")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ConfigError(f"ray executor: retries must be a whole number >= 0, got {retries!r}")
        if address is not None and not isinstance(address, str):
            raise ConfigError(f"ray executor: address must be 'auto' or HOST:PORT, got {address!r}")
        self.address, self.num_cpus = address or None, num_cpus
        self.cpus, self.gpus, self.retries = cpus_per_trial, gpus_per_trial, retries

    def describe(self) -> str:
        where = f"the Ray cluster at {self.address}" if self.address else "a local Ray cluster"
        gpus = f", {self.gpus:g} GPU" if self.gpus else ""
        return f"ray: {where}, {self.cpus:g} CPU{gpus} per trial"

    def run(self, tasks: Sequence[Any], work: Callable[[Any], Any], events: ExecutorEvents) -> None:
        if not tasks:
            return
        ray = import_ray()
        started_here = not ray.is_initialized()
        if started_here:
            self._init(ray)
        try:
            self._run(ray, list(tasks), work, events)
        finally:
            if started_here:
                ray.shutdown()

    def _init(self, ray: Any) -> None:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                   "configure_logging": False}
        if self.address:
            options["address"] = self.address
        elif self.num_cpus is not None:
            options["num_cpus"] = self.num_cpus
        try:
            ray.init(**options)
        except Exception as exc:
            raise GanzooError(f"cannot start or reach the Ray cluster{f' at {self.address}' if self.address else ''}:"
                              f" {exc}", hint="start it with `ray start --head`, check --address, or use "
                                              "--executor local") from exc

    def _slots(self, ray: Any) -> int:
        """How many trials the cluster can run at once."""
        resources = ray.cluster_resources()
        limits = [resources.get("CPU", 0) // self.cpus if self.cpus else None,
                  resources.get("GPU", 0) // self.gpus if self.gpus else None]
        slots = int(min(x for x in limits if x is not None))
        if slots < 1:
            raise GanzooError(f"the Ray cluster ({resources.get('CPU', 0):g} CPUs, {resources.get('GPU', 0):g} GPUs) "
                              f"cannot run a trial of {self.cpus:g} CPUs and {self.gpus:g} GPUs",
                              hint="lower cpus_per_trial / gpus_per_trial or add nodes")
        return slots

    def _run(self, ray: Any, queue: list[Any], work: Callable[[Any], Any], events: ExecutorEvents) -> None:
        remote = ray.remote(num_cpus=self.cpus, num_gpus=self.gpus, max_retries=self.retries,
                            retry_exceptions=False)(_in_ray)
        threads = max(1, int(self.cpus))
        slots = self._slots(ray)
        running: dict[Any, Any] = {}
        try:
            while queue or running:
                while queue and len(running) < slots:
                    task = queue.pop(0)
                    running[remote.remote(work, task, threads)] = task
                    events.started(task, "ray")
                done, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
                for ref in done:
                    self._collect(ray, ref, running.pop(ref), events)
        except KeyboardInterrupt:
            for ref in running:  # a KeyboardInterrupt in each task: its trainer checkpoints and returns
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=False)
            deadline = time.monotonic() + STOP_GRACE_S
            with contextlib.suppress(KeyboardInterrupt):
                while running and time.monotonic() < deadline:
                    done, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
                    for ref in done:
                        task = running.pop(ref)
                        with contextlib.suppress(Exception):
                            events.finished(task, ray.get(ref))
            raise

    @staticmethod
    def _collect(ray: Any, ref: Any, task: Any, events: ExecutorEvents) -> None:
        try:
            report = ray.get(ref)
        except ray.exceptions.RayError as exc:  # the worker died more often than retries allow, or work raised
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            events.lost(task, f"Ray could not run it ({type(exc).__name__}: {first})")
            return
        events.finished(task, report)


def _in_ray(work: Callable[[Any], Any], task: Any, threads: int) -> Any:
    """A Ray task: ``work(task)`` with ``threads`` torch threads."""
    import torch

    torch.set_num_threads(threads)
    return work(task)
