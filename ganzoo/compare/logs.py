"""A trial's training log (its ``metrics.jsonl``: one record per generator step, plus the ``--eval-every``
measurements): from the trial's run folder when it is there, else the copy stored with its model."""

from __future__ import annotations

from typing import Any

from ganzoo.errors import GanzooError
from ganzoo.runs.folder import LOG_FILE, read_metrics
from ganzoo.store import ModelStore
from ganzoo.sweep.outcome import TrialOutcome


def training_log(outcome: TrialOutcome, store: ModelStore | None) -> list[dict[str, Any]]:
    """The records of the trial's log; empty when neither its run folder nor the store has one."""
    if outcome.run_dir is not None and (outcome.run_dir / LOG_FILE).is_file():
        return read_metrics(outcome.run_dir / LOG_FILE)
    if store is not None and outcome.model_ref:
        try:
            record = store.get(outcome.model_ref)
            if LOG_FILE in store.files(record):
                return read_metrics(store.file(record, LOG_FILE))
        except GanzooError:
            return []
    return []


def series(records: list[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    """(steps, values) of ``key`` in the records that have it."""
    points = [(float(r["step"]), float(r[key])) for r in records if r.get(key) is not None and "step" in r]
    return [p[0] for p in points], [p[1] for p in points]


def eval_key(records: list[dict[str, Any]], label: str, key: str) -> str | None:
    """The log key of the compared metric's measurements during training (``eval/<label>``), if any were made."""
    present = {k for r in records for k in r if k.startswith("eval/")}
    for candidate in (f"eval/{label}", f"eval/{key}"):
        if candidate in present:
            return candidate
    return None
