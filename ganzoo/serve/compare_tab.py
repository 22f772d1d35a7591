"""The sampling page's "Compare" tab: pick a sweep (by id) or several stored models and see ``ganzoo compare``'s
tables, its distribution and curve plots, and the best models' samples side by side.

:class:`CompareActions` is the tab without the page (validated inputs, pictures in the page's private work folder,
generators from the page's cache); :func:`add_compare_tab` wires it to Gradio as the ``compare`` endpoint.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ganzoo.compare import figures
from ganzoo.compare.inputs import load_sources
from ganzoo.compare.report import comparison_json, tables_markdown
from ganzoo.compare.table import compare
from ganzoo.errors import GanzooError
from ganzoo.plugin.loading import get_registry
from ganzoo.serve import validation
from ganzoo.serve.service import SamplingService

MAX_MODELS = 64  # models one comparison may name
SWEEPS_FOLDER = "sweeps"  # in GANZOO_HOME: one ID.json per sweep, pointing at its folder
SWEEP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
METRIC_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

TEXT = """### Compare losses over seeds
Pick a sweep (its id, as `ganzoo sweep` printed it) or several stored models, then *Compare*: a table per
architecture (mean, standard deviation and 95 % Student-t interval over the finished trials, best and median trial,
failed trials), the ranking with the pairs Welch's t-test (Holm-corrected) does not tell apart, the metric's
distribution per loss, every trial's W estimate and metric over training, and the best model of each loss sampled
from the same noise. The same as `ganzoo compare` (docs/sweeps.md)."""


def sweep_id(value: Any) -> str | None:
    """A sweep id (letters, digits, ``.``, ``_``, ``-``), or None for no sweep; never a path."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise GanzooError(f"a sweep must be given by its id, got {type(value).__name__} {value!r}",
                          hint="the id `ganzoo sweep` printed, e.g. mlp-gaussians8-3f2a9c")
    text = value.strip()
    if not SWEEP_ID.match(text) or ".." in text:
        raise GanzooError(f"{text!r} is not a sweep id; this page opens sweeps by id only, never by path",
                          hint="the id `ganzoo sweep` printed (letters, digits, '.', '_', '-')")
    return text


def model_refs(value: Any) -> list[str]:
    """The chosen models (a list of references; one string is one model), each checked as the page checks one."""
    if value is None or value == "":
        return []
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, (list, tuple)):
        raise GanzooError(f"models must be a list of NAME or NAME:VERSION, got {type(value).__name__}",
                          hint='e.g. ["toy:1", "toy:2"]')
    if len(values) > MAX_MODELS:
        raise GanzooError(f"{len(values)} models chosen; at most {MAX_MODELS} can be compared at once",
                          hint="compare a sweep instead, or fewer models")
    return [validation.model_ref(v) for v in values]


def metric_key(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or not METRIC_KEY.match(value.strip()):
        raise GanzooError(f"metric must be a result key such as fid or w1, got {value!r}",
                          hint="leave it empty for the default (fid, else w1)")
    return value.strip()


class CompareActions:
    """The Compare tab's action over the page's :class:`SamplingService` (its store, cache and work folder)."""

    def __init__(self, service: SamplingService) -> None:
        self.service = service

    def sweeps(self) -> list[str]:
        """The ids of the sweeps the store knows (``ganzoo sweep`` records each as ``GANZOO_HOME/sweeps/ID.json``),
        newest first."""
        folder = self.service.store.home / SWEEPS_FOLDER
        if not folder.is_dir():
            return []
        pointers = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        return [p.stem for p in pointers if SWEEP_ID.match(p.stem)]

    def _load(self, ref: str, **_: Any) -> Any:
        return self.service.generators.get(self.service.store.get(ref).ref)

    def compare(self, sweep: Any = None, models: Any = None, metric: Any = None) -> tuple[Any, ...]:
        """(the tables as Markdown, distribution PNG, curves PNG, samples PNG or None, the comparison as JSON)."""
        chosen_sweep, refs, key = sweep_id(sweep), model_refs(models), metric_key(metric)
        sources = ([chosen_sweep] if chosen_sweep else []) + refs
        if not sources:
            raise GanzooError("nothing to compare", hint="pick a sweep, or two or more models")
        store = self.service.store
        outcomes, _ = load_sources(sources, store)
        comparison = compare(outcomes, registry=get_registry(), store=store, metric=key, sources=sources)
        output: Callable[[str], Any] = lambda stem: self.service.output(f"compare-{stem}", ".png")  # noqa: E731
        distribution = figures.save_png(figures.distribution(comparison), output("distribution"))
        curves = figures.save_png(figures.curves(comparison, store), output("curves"))
        grids = figures.sample_grids(comparison, store, load=self._load)
        samples = None if grids is None else figures.save_png(grids, output("samples"))
        text = tables_markdown(comparison) + "".join(f"\n\nNote: {note}." for note in comparison.notes)
        pictures = {"distribution": distribution, "curves": curves, **({"samples": samples} if samples else {})}
        return text, distribution, curves, samples, comparison_json(comparison, pictures)


Guard = Callable[[Callable[..., Any]], Callable[..., Any]]


def add_compare_tab(gr: Any, service: SamplingService, guard: Guard, compute: dict[str, Any],
                    picture: dict[str, Any]) -> tuple[Callable[[], tuple[Any, Any]], list[Any]]:
    """Add the tab inside the page's ``gr.Tabs``; returns (a function that refreshes its two pickers, the pickers),
    for the page's ``load`` and *Refresh list* events."""
    actions = CompareActions(service)
    with gr.Tab("Compare", elem_id="tab-compare"):
        gr.Markdown(TEXT)
        with gr.Row(equal_height=True):
            sweep = gr.Dropdown(choices=[], value=None, allow_custom_value=True, label="Sweep id", scale=2,
                                elem_id="compare-sweep")
            models = gr.Dropdown(choices=[], value=[], multiselect=True, label="or models", scale=4,
                                 elem_id="compare-models")
            metric = gr.Textbox(value="", label="Metric (empty: fid, else w1)", scale=1, elem_id="compare-metric")
            run = gr.Button("Compare", variant="primary", scale=1, elem_id="compare-run")
        table = gr.Markdown(elem_id="compare-table")
        plot = {**picture, "show_label": False}  # the pictures carry their own titles
        with gr.Row():
            distribution = gr.Image(label="The metric per loss over the finished trials",
                                    elem_id="compare-distribution", **plot)
            curves = gr.Image(label="W estimate and the metric over training, every trial", elem_id="compare-curves",
                              **plot)
        samples = gr.Image(label="The best model of each loss, samples from the same noise",
                           elem_id="compare-samples", **plot)
        summary = gr.JSON(label="comparison.json", elem_id="compare-json")
    run.click(guard(actions.compare), [sweep, models, metric], [table, distribution, curves, samples, summary],
              api_name="compare", **compute)

    def pickers() -> tuple[Any, Any]:
        return gr.update(choices=actions.sweeps()), gr.update(choices=service.choices())

    return pickers, [sweep, models]
