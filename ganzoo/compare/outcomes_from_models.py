"""Models of the store as trials: what ``ganzoo compare NAME[:VERSION] ...`` compares when no sweep made them.

A stored version knows everything a sweep's trial does: loss, architecture, data set and seed from its config.json
(``train_config``), steps and wall time from its training record, and its evaluation results (the newest value of
each result key, as ``ganzoo eval`` stored them). Its training log is the stored ``metrics.jsonl``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ganzoo.store import ModelRecord, ModelStore
from ganzoo.sweep.outcome import FINISHED, TrialOutcome

#: train_config keys that are the trial's identity, not its settings
IDENTITY_KEYS = ("arch", "loss", "dataset", "seed", "name", "register", "sources", "notes", "device")


def newest_results(record: ModelRecord) -> dict[str, dict[str, Any]]:
    """The newest stored result of each result key (``metric``) of ``record``; results are stored oldest first."""
    newest: dict[str, dict[str, Any]] = {}
    for result in record.metrics:
        if isinstance(result, Mapping) and "metric" in result and "value" in result:
            newest[str(result["metric"])] = dict(result)
    return newest


def outcome_from_record(record: ModelRecord) -> TrialOutcome:
    """``record`` as a finished trial outside any sweep (its trial id is its ``name:version``)."""
    train_config = record.config.get("train_config") or {}
    training = record.config.get("training") or {}
    settings = {k: v for k, v in train_config.items() if k not in IDENTITY_KEYS}
    wall = training.get("wall_time_s")
    return TrialOutcome(
        sweep_id=None, trial_id=record.ref, loss=record.loss, arch=record.arch, dataset=record.dataset,
        seed=int(train_config.get("seed", 0)), settings=settings, status=FINISHED, error=None, model_ref=record.ref,
        run_dir=None, metrics={key: float(r["value"]) for key, r in newest_results(record).items()},
        steps=int(training.get("steps", train_config.get("steps", 0))),
        wall_time_s=float(wall) if isinstance(wall, (int, float)) else None)


def outcomes_from_models(refs: Sequence[str], store: ModelStore) -> list[TrialOutcome]:
    """One trial per stored version named in ``refs`` (``NAME`` is its newest version); unknown names raise with
    close matches (:meth:`ModelStore.get`)."""
    return [outcome_from_record(store.get(ref)) for ref in refs]
