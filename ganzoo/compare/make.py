"""``ganzoo compare`` as one function: the arguments' trials -> the comparison -> the report folder."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from ganzoo.compare.inputs import load_sources
from ganzoo.compare.report import write_report
from ganzoo.compare.table import Comparison, compare
from ganzoo.plugin.loading import get_registry
from ganzoo.plugin.registry import Registry
from ganzoo.store import ModelStore

DEFAULT_ROOT = Path("comparisons")


def default_out(sources: Sequence[str], root: str | Path = DEFAULT_ROOT) -> Path:
    """``comparisons/<the arguments, joined>``: where the report goes unless ``--out`` says otherwise."""
    slug = re.sub(r"[^A-Za-z0-9._+-]+", "_", "+".join(Path(s).name or s for s in sources)).strip("._") or "comparison"
    return Path(root) / slug[:80]


def make_comparison(sources: Sequence[str], *, metric: str | None = None, dataset: str | None = None,
                    store: ModelStore | None = None, registry: Registry | None = None) -> Comparison:
    """The comparison of every trial ``sources`` name (sweep ids or folders, stored models)."""
    store = store or ModelStore()
    outcomes, _ = load_sources(sources, store)
    return compare(outcomes, registry=registry or get_registry(), store=store, metric=metric, dataset=dataset,
                   sources=sources)


def compare_to_folder(sources: Sequence[str], out: str | Path | None = None, *, metric: str | None = None,
                      dataset: str | None = None, store: ModelStore | None = None,
                      registry: Registry | None = None) -> tuple[Comparison, dict[str, Path]]:
    """:func:`make_comparison`, written as report.md + comparison.json + PNGs into ``out`` (default
    :func:`default_out`); returns the comparison and the written files."""
    store = store or ModelStore()
    comparison = make_comparison(sources, metric=metric, dataset=dataset, store=store, registry=registry)
    return comparison, write_report(comparison, out if out is not None else default_out(sources), store)
