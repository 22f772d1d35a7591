"""The executor contract: where a sweep's trials run (this machine's processes, a Ray cluster, ...).

The sweep's driver hands :meth:`Executor.run` the trials still to do and ``work``, a module-level (picklable)
function that runs one of them completely in whatever process calls it: it trains the trial (resuming from its
checkpoint when the trial was started before), evaluates it, and returns a report. The executor calls ``work(task)``
for every task, as many at once as its resources allow, and tells ``events`` what happens; the driver records it.
An executor never writes the sweep's state or the model store: the driver does, in its own process.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Protocol


class ExecutorEvents(Protocol):
    """What an executor reports to the driver (called in the driver's process, from the thread that called run)."""

    def started(self, task: Any, where: str) -> None:
        """``task`` started (again, after a lost worker) on ``where`` (a worker's description, e.g. "worker 2")."""

    def finished(self, task: Any, report: Any) -> None:
        """``work(task)`` returned ``report`` (a finished, failed or interrupted trial)."""

    def lost(self, task: Any, error: str) -> None:
        """The process running ``task`` died and the executor will not run it again (``error`` says how)."""


class Executor(ABC):
    """Runs ``work(task)`` for each task. ``task.trial_id`` names a task in messages.

    Contract: each task is reported exactly once through ``events.finished`` or ``events.lost`` (a task whose
    process died may be run again first: ``work`` resumes it from its checkpoint); ``run`` returns when every task
    is reported. On KeyboardInterrupt, it asks the running work to stop (trainers then checkpoint and report an
    interrupted trial), reports what came back, stops its processes and re-raises KeyboardInterrupt.
    """

    name: ClassVar[str] = ""

    @abstractmethod
    def run(self, tasks: Sequence[Any], work: Callable[[Any], Any], events: ExecutorEvents) -> None:
        """Run every task (see the class docstring)."""

    def describe(self) -> str:
        """One line for the sweep's header, e.g. "local: 2 worker processes, 1 torch thread each"."""
        return self.name
