"""Checkpoints as safetensors + JSON: no pickle anywhere, so a checkpoint can be loaded safely from anyone.

A training state (module and optimizer state dicts, RNG states, data order, counters) is split into its tensors,
stored in ``step_NNNNNNN.safetensors``, and everything else, stored in ``step_NNNNNNN.json`` with references to the
tensors. ``latest.json`` is written last and names the newest complete checkpoint, so a crash in the middle of a
write never leaves the newest readable checkpoint unreadable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ganzoo.errors import GanzooError
from ganzoo.runs.files import atomic_write, atomic_write_json

LATEST = "latest.json"


def split_tensors(obj: Any, tensors: dict[str, torch.Tensor], prefix: str = "") -> Any:
    """Replace every tensor in a nested dict/list with ``{"__tensor__": key}``, collecting it in ``tensors``.

    Dict keys keep their type (optimizer states use int keys) by storing dicts as ``{"__items__": [[k, v], ...]}``.
    """
    if isinstance(obj, torch.Tensor):
        key = prefix or "value"
        tensors[key] = obj.detach().cpu().contiguous()
        return {"__tensor__": key}
    if isinstance(obj, dict):
        return {"__items__": [[k, split_tensors(v, tensors, f"{prefix}.{k}" if prefix else str(k))]
                              for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return [split_tensors(v, tensors, f"{prefix}.{i}") for i, v in enumerate(obj)]
    return obj


def join_tensors(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`split_tensors`."""
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        return {k: join_tensors(v, tensors) for k, v in obj["__items__"]}
    if isinstance(obj, list):
        return [join_tensors(v, tensors) for v in obj]
    return obj


def save_checkpoint(directory: str | Path, step: int, state: dict[str, Any], keep: int = 3) -> Path:
    """Write the state of ``step`` atomically, point ``latest.json`` at it, and prune to the newest ``keep``."""
    directory = Path(directory)
    stem = f"step_{step:07d}"
    tensors: dict[str, torch.Tensor] = {}
    skeleton = split_tensors(state, tensors)
    atomic_write(directory / f"{stem}.safetensors", lambda tmp: save_file(tensors, tmp))
    atomic_write_json(directory / f"{stem}.json", {"step": step, "state": skeleton})
    atomic_write_json(directory / LATEST, {"step": step, "stem": stem})
    for old in sorted(directory.glob("step_*.safetensors"))[:-keep]:
        old.unlink(missing_ok=True)
        old.with_suffix(".json").unlink(missing_ok=True)
    for partial in (*directory.glob(".step_*.tmp"), *directory.glob(f".{LATEST}.*.tmp")):
        partial.unlink(missing_ok=True)  # temp files of writes cut short by a kill (one writer per run: not ours)
    return directory / f"{stem}.safetensors"


def latest_checkpoint_step(directory: str | Path) -> int | None:
    """The step that ``latest.json`` names, or None when there is no readable pointer."""
    try:
        return int(json.loads((Path(directory) / LATEST).read_text())["step"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load_checkpoint(directory: str | Path) -> tuple[int, dict[str, Any]]:
    """(step, state) of the newest complete checkpoint in ``directory``."""
    directory = Path(directory)
    latest = directory / LATEST
    if not latest.exists():
        raise GanzooError(
            f"no checkpoint in {directory}", hint="a run writes checkpoints/ every --checkpoint-every steps"
        )
    try:
        stem = json.loads(latest.read_text())["stem"]
        meta = json.loads((directory / f"{stem}.json").read_text())
        tensors = load_file(str(directory / f"{stem}.safetensors"))
    except (OSError, ValueError, KeyError, SafetensorError) as exc:  # a damaged file, never a crash mid-write
        raise GanzooError(f"checkpoint in {directory} is unreadable: {exc}",
                          hint="the files may be truncated or edited; restore them or start a new run") from exc
    return int(meta["step"]), join_tensors(meta["state"], tensors)
