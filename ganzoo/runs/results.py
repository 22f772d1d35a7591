"""Evaluation results as a list of dicts (the store's metric-result contract), and how a new measurement joins
earlier ones: in the model store's index and in a run folder's results.json alike."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ganzoo.runs.files import atomic_write_json

RESULTS_FILE = "results.json"


def merged_results(existing: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]) -> list[Any]:
    """``existing`` then ``new``, where a result replaces any earlier one with the same label, reference and
    generator (raw or averaged; none recorded: raw) - a re-measurement."""
    merged = list(existing)

    def key(result: Mapping[str, Any]) -> tuple[Any, ...]:
        return result.get("label"), result.get("reference"), result.get("generator") or "raw"

    for result in new:
        merged = [m for m in merged if key(m) != key(result)]
        merged.append(result)
    return merged


def merge_results(path: Path, results: Sequence[dict[str, Any]]) -> Path:
    """Add ``results`` to the JSON list in ``path`` as the model store does (:func:`merged_results`)."""
    try:
        existing = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    except ValueError:
        existing = []
    return atomic_write_json(path, merged_results(existing, results))


