"""The built-in executors, registered like any third-party plugin's: ``local`` (worker processes on this machine)
and ``ray`` (a Ray cluster; needs ``pip install 'ganzoo[ray]'``)."""

from __future__ import annotations

from ganzoo import ExecutorSpec, LocalExecutor, RayExecutor, hookimpl


@hookimpl
def register_executors(register) -> None:  # noqa: ANN001 - the hook's callback
    register(ExecutorSpec(
        name="local", factory=LocalExecutor, options={"workers": None, "threads": 1, "retries": 1, "gpus": True},
        description="Worker processes on this machine: --workers N (default: one per GPU, else one per core), "
                    "one torch thread each on a CPU; a trial whose worker dies is started again from its "
                    "checkpoint (retries)."))
    register(ExecutorSpec(
        name="ray", factory=RayExecutor,
        options={"address": None, "cpus_per_trial": 1, "gpus_per_trial": 0, "retries": 1, "num_cpus": None},
        description="Ray tasks on a Ray cluster (--address auto or HOST:PORT; none: a local cluster of num_cpus "
                    "CPUs), cpus_per_trial / gpus_per_trial as each task's resources; a task whose worker dies "
                    "is retried (retries) and resumes from its checkpoint. pip install 'ganzoo[ray]'.",
        paper="Moritz et al. 2018, Ray (arXiv:1712.05889)"))
