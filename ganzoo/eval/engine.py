"""The evaluation engine: generate N samples from a generator, score them with metric plugins, format the results.

What is evaluated (a :class:`Subject`) comes from the model store (``ganzoo eval NAME[:VERSION]``) or from a run
directory's newest checkpoint (``ganzoo eval --run DIR``), rebuilt through the plugin registry. The real side is
the model's data set, rebuilt from the registry with the model's data-set options and the chosen split (``test``
by default: a held-out reference), with a :class:`~ganzoo.plugin.metric.Reference` attached so that every score records
exactly what it was compared with and feature caches are keyed by it.

Defaults by data kind: points -> ``modes`` (when the data set knows its modes) and ``w1`` on 2,500 samples (the
papers' protocol); images -> ``fid``, ``is``, ``kid`` on 10,000 samples with the data set's classifier for 28x28
grey data it knows, else Inception.

Every result is one dict (the store's metric-result contract): metric, label, value, higher_is_better, extractor,
n_samples, reference, plugin (the metric's registry name), plugin_distribution and plugin_version (the
distribution that provided it), torch_fidelity_version, ganzoo_version, measured_at, generator ("ema": the averaged
generator, used when a model has one; "raw"), plus std / n_reference / seed /
extractor_sha256 where they apply. The same engine scores a generator during training (:class:`TrainingEvaluator`,
``ganzoo train --eval-every K``).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ganzoo import __version__
from ganzoo.errors import ConfigError, GanzooError, UnknownNameError
from ganzoo.eval.subjects import Subject, subject_from_run
from ganzoo.plugin.data import IMAGES, POINTS, RealData
from ganzoo.plugin.loading import get_registry
from ganzoo.plugin.metric import STD_SUFFIX, Metric, Reference, reference_of
from ganzoo.plugin.registry import Registry
from ganzoo.plugin.specs import Provider
from ganzoo.runs.networks import missing_plugin_error
from ganzoo.runs.noise import generate_in_chunks, seeded_noise
from ganzoo.runs.results import RESULTS_FILE, merge_results

DEFAULT_N = {IMAGES: 10_000, POINTS: 2_500}
#: Samples per evaluation during training (``--eval-every``): enough for a full-rank classifier-feature covariance;
#: 1,000 points keep the exact W1 LP at about a second (2,500 take 10-30 s on a busy 2-core machine).
TRAINING_EVAL_N = {IMAGES: 2_000, POINTS: 1_000}
DEFAULT_SPLIT = "test"
SPLITS = ("test", "train")


@dataclass
class Evaluation:
    subject: str
    results: list[dict[str, Any]]
    n: int
    seconds: float
    saved_to: str | None = None
    #: What the caller should know about the choice of metrics (e.g. a default metric left out, and why).
    notes: list[str] = field(default_factory=list)


# --- the pieces ---------------------------------------------------------------------------------------------------


def generate(generator: Callable[[Tensor], Tensor], latent_dim: int, n: int, seed: int = 0,
             device: torch.device | str = "cpu") -> Tensor:
    """``n`` samples (float, CPU) from noise drawn by a CPU generator seeded with ``seed``, in chunks.

    Noise and chunks are those of :meth:`ganzoo.store.loading.LoadedGenerator.sample` (:mod:`ganzoo.runs.noise`), so the
    samples are the same too. The caller's global RNG is untouched.
    """
    return generate_in_chunks(generator, seeded_noise(n, latent_dim, seed), device)


def reference_data(registry: Registry, dataset: str, options: dict[str, Any], split: str | None) -> RealData:
    """The real data to score against: ``dataset`` with the model's options and ``split`` (None: test when the data
    set has splits), on the CPU, with its :class:`~ganzoo.plugin.metric.Reference` attached."""
    spec = registry.dataset(dataset)
    has_split = "split" in spec.options
    if split is not None and split not in SPLITS:
        raise ConfigError(f"--split must be one of {', '.join(SPLITS)}, got {split!r}")
    if split is not None and not has_split:
        raise ConfigError(f"data set {spec.name!r} has no train/test split; it is compared with as a whole",
                          hint="leave out --split")
    chosen = dict(spec.options)
    chosen.update({k: v for k, v in options.items() if k in spec.options})
    if has_split:
        chosen["split"] = split or DEFAULT_SPLIT
    real = spec.build(**chosen)
    real.reference = Reference(spec.name, chosen.get("split"), chosen)  # type: ignore[attr-defined]
    return real


def default_metric_names(data_kind: str, real: RealData) -> tuple[list[str], list[str]]:
    """The metrics an evaluation without metric flags runs on ``data_kind``, and notes on any default left out."""
    if data_kind == POINTS:
        if real.modes is not None:
            return ["modes", "w1"], []
        name = getattr(real, "name", "?")
        return ["w1"], [f"modes left out: data set {name!r} declares no modes (a data-set plugin declares them with "
                        "DatasetSpec(modes=..., mode_std=...))"]
    return ["fid", "is", "kid"], []


def make_metrics(registry: Registry, names: Sequence[str], data_kind: str, *, extractor: str | None = None,
                 inception_weights: str | Path | None = None) -> list[tuple[str, Metric]]:
    """(registered name, metric) for each of ``names``; checks each metric applies to ``data_kind`` and passes
    ``extractor`` / ``inception_weights`` to the metrics that take them."""
    chosen: list[tuple[str, Metric]] = []
    takes_extractor = False
    for spec in {spec.name: spec for spec in map(registry.metric, names)}.values():  # aliases: each metric once
        if data_kind not in spec.data_kinds:
            raise ConfigError(f"metric {spec.name!r} scores {', '.join(spec.data_kinds)}; this model makes "
                              f"{data_kind}", hint=f"`ganzoo list --kind metric` shows which metrics fit {data_kind}")
        options = dict(spec.options)
        if "extractor" in options:
            takes_extractor = True
            if extractor is not None:
                options["extractor"] = extractor
            if inception_weights is not None:
                options["inception_weights"] = str(inception_weights)
        chosen.append((spec.name, spec.factory(**options)))
    if extractor is not None and not takes_extractor:
        raise ConfigError(f"--extractor {extractor} has no effect: none of {', '.join(n for n, _ in chosen)} uses a "
                          "feature extractor", hint="leave out --extractor (it is for image metrics)")
    return chosen


def run_metrics(metrics: Sequence[Metric], fake: Tensor, real: RealData, seed: int = 0) -> list[dict[str, float]]:
    """Values of each metric, in order; metrics that share a group key are computed together."""
    values: list[dict[str, float] | None] = [None] * len(metrics)
    groups: dict[Any, list[int]] = {}
    for i, metric in enumerate(metrics):
        key = metric.group_key()
        groups.setdefault(("group", key) if key is not None else ("single", i), []).append(i)
    for indices in groups.values():
        members = [metrics[i] for i in indices]
        generator = torch.Generator(real.device).manual_seed(seed)
        for i, result in zip(indices, type(members[0]).compute_group(members, fake, real, generator), strict=True):
            values[i] = result
    return [v or {} for v in values]


def result_dicts(name: str, metric: Metric, values: dict[str, float], n: int, reference: str,
                 seed: int, provider: Provider | None = None) -> list[dict[str, Any]]:
    """One store result per value (a ``*_std`` value rides along as ``std`` of its value); ``provider`` is the
    metric plugin's distribution, recorded with its version as ``plugin_distribution`` / ``plugin_version``."""
    measured = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    provenance = dict(metric.provenance)
    fidelity_version = provenance.pop("torch_fidelity_version", None)
    out = []
    for key, value in values.items():
        if key.endswith(STD_SUFFIX):
            continue
        result: dict[str, Any] = {
            "metric": key, "label": metric.label(key), "value": float(value), "plugin": name,
            "higher_is_better": metric.value_higher_is_better(key), "extractor": metric.extractor,
            "n_samples": n, "reference": reference,
            "plugin_distribution": provider.distribution if provider else None,
            "plugin_version": provider.version if provider else None,
            "torch_fidelity_version": fidelity_version,
            "ganzoo_version": __version__, "measured_at": measured, "seed": seed,
        }
        if f"{key}{STD_SUFFIX}" in values:
            result["std"] = float(values[f"{key}{STD_SUFFIX}"])
        result.update({k: v for k, v in provenance.items() if v is not None})
        out.append(result)
    return out


# --- whole evaluations --------------------------------------------------------------------------------------------


def evaluate(subject: Subject, metrics: Sequence[str] | None = None, *, extractor: str | None = None,
             n: int | None = None, split: str | None = None, inception_weights: str | Path | None = None,
             seed: int = 0, registry: Registry | None = None,
             echo: Callable[[str], None] | None = None) -> Evaluation:
    """Score ``subject``: ``metrics`` (default by data kind) on ``n`` samples (default 10,000 images / 2,500 points)
    against its data set's ``split`` (default test)."""
    registry = registry or get_registry()
    started = time.perf_counter()
    n = DEFAULT_N.get(subject.data_kind, 2_500) if n is None else n
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ConfigError(f"--n must be a whole number >= 2, got {n!r}", hint="e.g. --n 10000")
    try:
        registry.dataset(subject.dataset)
    except UnknownNameError:  # its plugin was uninstalled: say which distribution to install
        raise missing_plugin_error({"dataset": subject.dataset, "plugins": subject.plugins}, "dataset", registry,
                                   subject.source) from None
    real = reference_data(registry, subject.dataset, subject.dataset_options, split)
    reference = reference_of(real)
    against = reference.label if reference else subject.dataset
    if tuple(real.shape) != tuple(subject.shape):
        raise GanzooError(f"{subject.source} makes samples of shape {list(subject.shape)} but data set "
                          f"{subject.dataset!r} now gives {list(real.shape)}",
                          hint="the data-set plugin or its options changed since training")
    names, notes = (list(metrics), []) if metrics else default_metric_names(subject.data_kind, real)
    chosen = make_metrics(registry, names, subject.data_kind, extractor=extractor,
                          inception_weights=inception_weights)
    if echo:
        for note in notes:
            echo(f"note: {note}")
        echo(f"evaluating {subject.source}: {', '.join(n_ for n_, _ in chosen)} on {n} samples against "
             f"{against}")
    fake = generate(subject.generator, subject.latent_dim, n, seed, subject.device)
    values = run_metrics([m for _, m in chosen], fake, real, seed)
    results = [{**r, "generator": subject.weights} for (name, metric), v in zip(chosen, values, strict=True)
               for r in result_dicts(name, metric, v, n, against, seed, registry.metric(name).provider)]
    return Evaluation(subject.source, results, n, time.perf_counter() - started, notes=notes)


def evaluate_run(run_dir: str | Path, metrics: Sequence[str] | None = None, *, save: bool = True,
                 device: str = "cpu", registry: Registry | None = None, raw: bool = False,
                 **options: Any) -> Evaluation:
    """Evaluate a run directory's newest checkpoint (its averaged generator when it has one, unless ``raw``);
    results are merged into ``RUN_DIR/results.json``."""
    subject = subject_from_run(run_dir, device=device, registry=registry, raw=raw)
    evaluation = evaluate(subject, metrics, registry=registry, **options)
    if save:
        path = Path(run_dir) / RESULTS_FILE
        evaluation.saved_to = str(merge_results(path, evaluation.results))
    return evaluation


def format_table(results: Sequence[dict[str, Any]]) -> str:
    """Results as an aligned text table: label, value (+- std), better, samples, reference, extractor."""
    header = ("metric", "value", "better", "samples", "reference", "extractor")
    rows = [header]
    for r in results:
        value = f"{r['value']:.4g}" + (f" +- {r['std']:.2g}" if r.get("std") is not None else "")
        rows.append((r["label"], value, "higher" if r.get("higher_is_better") else "lower", str(r.get("n_samples")),
                     str(r.get("reference")), str(r.get("extractor") or "-")))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


