"""Progress of a whole sweep (trials done / running / failed, ETA, the best trial so far) and of each running
trial (its step, read from the end of its metrics.jsonl), as lines of text."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganzoo.runs.folder import LOG_FILE


def trial_step(run_dir: Path) -> int | None:
    """The last step a running trial logged (None: nothing yet, or its folder is on another machine)."""
    path = run_dir / LOG_FILE
    try:
        with open(path, "rb") as log:
            log.seek(0, 2)
            size = log.tell()
            log.seek(max(0, size - 4096))
            lines = log.read().decode("utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        try:
            return int(json.loads(line)["step"])
        except (ValueError, KeyError, TypeError):
            continue
    return None


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


@dataclass
class SweepProgress:
    """Counts of one sweep run; ``done_before`` trials were finished by earlier runs of the same sweep."""

    total: int
    done_before: int = 0
    failed_before: int = 0
    started_at: float = field(default_factory=time.monotonic)
    finished: int = 0
    failed: int = 0
    running: dict[str, Path] = field(default_factory=dict)
    best: tuple[str, str, float, bool] | None = None  # trial, metric, value, higher is better

    def start(self, trial_id: str, run_dir: Path) -> None:
        self.running[trial_id] = run_dir

    def done(self, trial_id: str, results: Sequence[Mapping[str, Any]] = ()) -> None:
        self.running.pop(trial_id, None)
        self.finished += 1
        if not results:
            return
        metric = self.best[1] if self.best else results[0]["metric"]
        for result in results:
            if result["metric"] != metric or not math.isfinite(result["value"]):
                continue
            higher = bool(result.get("higher_is_better"))
            value = float(result["value"])
            if self.best is None or (value > self.best[2] if higher else value < self.best[2]):
                self.best = (trial_id, metric, value, higher)

    def fail(self, trial_id: str) -> None:
        self.running.pop(trial_id, None)
        self.failed += 1

    def stopped(self, trial_id: str) -> None:
        self.running.pop(trial_id, None)

    def eta(self) -> float | None:
        """Seconds left at this run's pace (None until a trial ended)."""
        ended = self.finished + self.failed
        left = self.total - self.done_before - self.failed_before - ended
        if ended == 0:
            return None
        return (time.monotonic() - self.started_at) / ended * left

    def line(self) -> str:
        done = self.done_before + self.finished
        failed = self.failed_before + self.failed
        parts = [f"{done}/{self.total} done", f"{len(self.running)} running", f"{failed} failed"]
        eta = self.eta()
        if eta is not None:
            parts.append(f"ETA {_duration(eta)}")
        if self.best:
            trial, metric, value, _ = self.best
            parts.append(f"best {metric} {value:.4g} ({trial})")
        return "[" + ", ".join(parts) + "]"

    def trials_line(self, steps: int) -> str:
        """Each running trial with its step: ``wgan.mlp.s0.t0 120/300``."""
        shown = []
        for trial_id, run_dir in self.running.items():
            step = trial_step(run_dir)
            shown.append(f"{trial_id} {step if step is not None else '?'}/{steps}")
        return "running: " + ", ".join(shown) if shown else ""
