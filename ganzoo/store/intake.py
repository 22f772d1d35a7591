"""What comes into the store, checked completely before anything is written: a finished run folder, or a model
folder in the exported layout. This is where the plugin registry is consulted (the architecture must be installed),
networks are rebuilt and every weight tensor is checked against them; the result is an :class:`Intake` that the
store publishes as it is.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetensors.torch import save_file

from ganzoo import __version__
from ganzoo.errors import GanzooError
from ganzoo.plugin.registry import Registry
from ganzoo.runs.networks import build_networks, load_weights, read_weights
from ganzoo.store import artifact
from ganzoo.store.folders import copier, refuse_symlinks
from ganzoo.store.records import (
    CONFIG_FILE,
    CRITIC_FILE,
    CURVES_FILE,
    EXPORT_WEIGHTS,
    GENERATOR_EMA_FILE,
    GENERATOR_FILE,
    LOG_FILE,
    RESULTS_FILE,
    SAMPLES_FILE,
    now,
    validate_name,
)

METRIC_KEYS = ("metric", "label", "value")
Writer = Callable[[Path], None]


@dataclass
class Intake:
    """A model ready to publish: its config.json, a writer per file, its evaluation results and where it came from.

    ``once`` marks a run's model: the store does not store the same run (``run_id`` at these steps) twice.
    """

    name: str
    config: dict[str, Any]
    writers: dict[str, Writer]
    results: list[dict[str, Any]]
    source: str
    once: bool = False

    @property
    def steps(self) -> Any:
        return (self.config.get("training") or {}).get("steps")


def from_run_folder(run_dir: Path, name: str | None, registry: Registry) -> Intake:
    """A finished ``ganzoo train`` run folder: weights from its newest checkpoint, its latest sample grid, curves,
    log and ``ganzoo eval --run`` results."""
    source = f"run {run_dir}"
    refuse_symlinks(run_dir, source)
    config, generator, critic, average = artifact.from_run(run_dir, registry)
    name = validate_name(name if name is not None else artifact.default_name(config))
    writers: dict[str, Writer] = {GENERATOR_FILE: _safetensors_writer(generator),
                                  CRITIC_FILE: _safetensors_writer(critic)}
    if average is not None:
        writers[GENERATOR_EMA_FILE] = _safetensors_writer(average)
    samples = sorted((run_dir / "samples").glob("step_*.png"))
    for filename, source_file in ((SAMPLES_FILE, samples[-1] if samples else None),
                                  (CURVES_FILE, run_dir / CURVES_FILE), (LOG_FILE, run_dir / LOG_FILE)):
        if source_file is not None and source_file.is_file():
            writers[filename] = copier(source_file)
    results = read_results(run_dir / RESULTS_FILE, source)
    return Intake(name, config, writers, results, str(run_dir.resolve()), once=True)


def from_model_folder(directory: Path, name: str | None, registry: Registry) -> Intake:
    """A folder made by ``ganzoo models export`` (or laid out the same way): config.json parses and has every
    required key, its architecture is installed, the weights are safetensors whose every tensor fits the rebuilt
    generator (and critic)."""
    source = f"model folder {directory}"
    try:
        config = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
    except OSError as exc:
        raise GanzooError(f"{source} has no readable config.json: {exc}",
                          hint="pass the folder `ganzoo models export` wrote") from exc
    except ValueError as exc:
        raise GanzooError(f"{source}: config.json is not valid JSON: {exc}",
                          hint="export the model again with `ganzoo models export`") from exc
    config = artifact.validate(config, source)
    generator, critic = build_networks(config, registry, source)
    weights = next((directory / f for f in (EXPORT_WEIGHTS, GENERATOR_FILE) if (directory / f).is_file()), None)
    if weights is None:
        raise GanzooError(f"{source} has no {EXPORT_WEIGHTS} (the generator weights)",
                          hint="pass the folder `ganzoo models export` wrote")
    load_weights(generator, read_weights(weights, source), "generator", source)
    writers: dict[str, Writer] = {GENERATOR_FILE: copier(weights)}
    if (directory / CRITIC_FILE).is_file():
        load_weights(critic, read_weights(directory / CRITIC_FILE, source), "critic", source)
        writers[CRITIC_FILE] = copier(directory / CRITIC_FILE)
    if (directory / GENERATOR_EMA_FILE).is_file():
        load_weights(generator, read_weights(directory / GENERATOR_EMA_FILE, source), "averaged generator", source)
        writers[GENERATOR_EMA_FILE] = copier(directory / GENERATOR_EMA_FILE)
    results = read_results(directory / RESULTS_FILE, source)
    name = validate_name(name if name is not None else config.get("name") or artifact.default_name(config))
    for filename in (SAMPLES_FILE, CURVES_FILE, LOG_FILE):
        if (directory / filename).is_file():
            writers[filename] = copier(directory / filename)
    return Intake(name, config, writers, results, str(directory.resolve()))


def _safetensors_writer(tensors: Mapping[str, Any]) -> Writer:
    contiguous = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    return lambda path: save_file(contiguous, str(path), metadata={"format": "pt"})


def check_result(result: Any) -> dict[str, Any]:
    """A metric result dict with its required keys and a finite value; fills ganzoo_version and measured_at."""
    if not isinstance(result, Mapping):
        raise GanzooError(f"a metric result must be a dict, got {type(result).__name__}")
    missing = [k for k in METRIC_KEYS if k not in result]
    if missing:
        raise GanzooError(f"metric result {dict(result)!r} lacks {', '.join(missing)}",
                          hint="each result needs at least metric, label and value")
    value = result["value"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise GanzooError(f"metric result {result['label']!r} has value {value!r}; a finite number is needed")
    checked = {"ganzoo_version": __version__, "measured_at": now(), **dict(result)}
    checked["value"] = float(value)
    try:
        json.dumps(checked)
    except (TypeError, ValueError) as exc:
        raise GanzooError(f"metric result {result['label']!r} is not JSON-serialisable: {exc}",
                          hint="use plain numbers, strings, booleans, lists and dicts") from exc
    return checked


def read_results(path: Path, source: str) -> list[dict[str, Any]]:
    """The checked results of a results.json beside a model (none when there is no such file)."""
    if not path.is_file():
        return []
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise GanzooError(f"{source}: {path.name} is not valid JSON: {exc}",
                          hint=f"delete {path.name} to import the model without its results") from exc
    if not isinstance(results, list):
        raise GanzooError(f"{source}: {path.name} must hold a list of metric results")
    return [check_result(r) for r in results]
