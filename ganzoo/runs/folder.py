"""A run folder's files as data: config.json (the run's settings, its id, versions, device, data) and metrics.jsonl
(one record per generator step). The trainer writes them; evaluation, the store and resume read them here.

A run folder::

    config.json            {"config": TrainConfig, "run_id", "ganzoo_version", "torch_version", "device", "data"}
    metrics.jsonl          one JSON record per generator step (and the --eval-every measurements)
    samples/step_N.png     grids (or scatters) from fixed noise
    curves.png             losses, W estimate, evaluations
    checkpoints/           step_N.safetensors + step_N.json, latest.json (ganzoo.runs.checkpoint)
    results.json           evaluations of the run folder (``ganzoo eval --run``; ganzoo.runs.results)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ganzoo.errors import GanzooError
from ganzoo.runs.config import TrainConfig
from ganzoo.runs.files import atomic_write_json

CONFIG_FILE, LOG_FILE, CURVES_FILE = "config.json", "metrics.jsonl", "curves.png"


def write_run_config(run_dir: str | Path, config: TrainConfig, **facts: Any) -> Path:
    """Write config.json: the settings and ``facts`` (run_id, versions, device, data description)."""
    return atomic_write_json(Path(run_dir) / CONFIG_FILE, {"config": config.to_dict(), **facts})


def read_metrics(path: str | Path, upto: int | None = None) -> list[dict[str, Any]]:
    """The records of a metrics.jsonl (a partial last line from a crash is ignored)."""
    records = []
    path = Path(path)
    if not path.exists():
        return records
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if upto is None or record.get("step", 0) <= upto:
            records.append(record)
    return records


def read_run(run_dir: str | Path) -> tuple[TrainConfig, dict[str, Any]]:
    """(config, the whole config.json) of a ``ganzoo train`` run directory; ``run["data"]`` describes the data."""
    run_dir = Path(run_dir)
    try:
        run = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
        run["data"] = dict(run["data"])
        return TrainConfig.from_dict(run["config"]), run
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GanzooError(f"{run_dir} is not a readable ganzoo run: {exc}",
                          hint="pass the folder that `ganzoo train` printed (it holds config.json)") from exc
