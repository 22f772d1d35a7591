"""The conformance check of an executor: it builds from its declared options, describes itself, and runs work
(a picklable function, in whatever processes it uses) reporting each task exactly once with work's own result."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ganzoo.plugin.executor import Executor
from ganzoo.plugin.specs import ExecutorSpec
from ganzoo.testing.support import check, fail, validate_spec


@dataclass(frozen=True)
class KitTask:
    """A task of the kit: ``work`` doubles ``value``."""

    trial_id: str
    value: int


def double(task: KitTask) -> dict[str, Any]:
    """The kit's work: module-level, so any executor can send it to another process."""
    return {"trial_id": task.trial_id, "value": 2 * task.value}


class _Events:
    def __init__(self) -> None:
        self.started: list[str] = []
        self.reports: dict[str, list[Any]] = {}
        self.lost: dict[str, str] = {}

    def started_(self, task: Any, where: str) -> None:
        self.started.append(task.trial_id)

    def finished(self, task: Any, report: Any) -> None:
        self.reports.setdefault(task.trial_id, []).append(report)

    def lost_(self, task: Any, error: str) -> None:
        self.lost[task.trial_id] = error


def check_executor(spec: ExecutorSpec, *, options: Mapping[str, Any] | None = None, run: bool = True,
                   tasks: int = 3) -> None:
    """Check ``spec``: ``factory(**options)`` (default: its declared options) makes an :class:`Executor`, and (with
    ``run``) it runs ``tasks`` tasks, reporting every one exactly once through ``events.finished`` with ``work``'s
    return value and none as lost."""
    owner = validate_spec(spec, ExecutorSpec)
    chosen = {**spec.options, **(options or {})}
    try:
        executor = spec.factory(**chosen)
    except Exception as exc:
        fail(owner, f"factory(**{chosen!r}) raised {type(exc).__name__}: {exc}",
             "the factory must accept its declared options and build without starting anything")
    check(isinstance(executor, Executor), owner, f"factory returned {type(executor).__name__}, not an Executor",
          "subclass ganzoo.Executor and implement run(tasks, work, events)")
    check(isinstance(executor.describe(), str) and bool(executor.describe()), owner, "describe() is empty",
          "return a short description of where tasks run (e.g. 'local, 2 processes') from describe()")
    if not run:
        return
    events = _Events()
    sink = type("Events", (), {"started": events.started_, "finished": events.finished, "lost": events.lost_})()
    todo = [KitTask(f"kit-{i}", i) for i in range(tasks)]
    executor.run(todo, double, sink)
    check(not events.lost, owner, f"tasks were reported lost: {events.lost}",
          "report a task as lost only when its process died; work's errors belong in its report")
    for task in todo:
        got = events.reports.get(task.trial_id, [])
        check(len(got) == 1, owner, f"task {task.trial_id} was reported {len(got)} times, not once",
              "call events.finished(task, report) exactly once per task")
        check(got[0] == double(task), owner, f"task {task.trial_id} came back as {got[0]!r}, not work's "
              f"{double(task)!r}", "pass work(task)'s return value to events.finished unchanged")
        check(task.trial_id in events.started, owner, f"task {task.trial_id} was never reported as started",
              "call events.started(task, where) before running each task")
