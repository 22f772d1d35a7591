"""ganzoo: a plugin-based GAN zoo.

This module is the public face: a plugin author imports everything from here (``from ganzoo import hookimpl,
LossSpec, ComposedLoss, ...``), and docs/plugins.md names nothing deeper. ``import ganzoo`` stays cheap: the names
that need torch are imported on first use.
"""

from __future__ import annotations

__version__ = "0.1.0"  # first: modules below read it while this package is still being imported

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ganzoo.errors import (
    ConfigError,
    DataError,
    DuplicateNameError,
    GanzooError,
    PluginError,
    StorageError,
    UnknownNameError,
)
from ganzoo.plugin.executor import Executor, ExecutorEvents
from ganzoo.plugin.hookspecs import API_VERSION, hookimpl
from ganzoo.plugin.specs import (
    ArchitectureSpec,
    DatasetSpec,
    ExecutorSpec,
    ExperimentSpec,
    LossSpec,
    MetricSpec,
    TrainingDefaults,
)

#: name -> the module it comes from, for the names imported on first use (they need torch).
_LAZY = {
    # the loss contract
    "GANLoss": "ganzoo.plugin.loss", "ComposedLoss": "ganzoo.plugin.loss", "Objective": "ganzoo.plugin.loss",
    "Constraint": "ganzoo.plugin.loss", "CriticStep": "ganzoo.plugin.loss",
    # the data contract
    "RealData": "ganzoo.plugin.data", "TensorData": "ganzoo.plugin.data", "SampledData": "ganzoo.plugin.data",
    "IMAGES": "ganzoo.plugin.data", "POINTS": "ganzoo.plugin.data", "to_unit_range": "ganzoo.plugin.data",
    "images_to_uint8": "ganzoo.plugin.data",
    # the metric contract, and exact statistics of point sets for metrics to use
    "Metric": "ganzoo.plugin.metric", "Reference": "ganzoo.plugin.metric", "reference_of": "ganzoo.plugin.metric",
    "mode_statistics": "ganzoo.plugin.points", "exact_w1": "ganzoo.plugin.points",
    # the experiment contract (papers' claims as runnable experiments)
    "Experiment": "ganzoo.plugin.experiment", "Findings": "ganzoo.plugin.experiment",
    "Verdict": "ganzoo.plugin.experiment", "Table": "ganzoo.plugin.experiment",
    "ExperimentContext": "ganzoo.plugin.experiment",
    # plugin loading
    "build_registry": "ganzoo.plugin.loading", "get_registry": "ganzoo.plugin.loading",
    "reset_registry": "ganzoo.plugin.loading",
    # files and places a plugin may write (caches) the way ganzoo does
    "atomic_write": "ganzoo.runs.files", "atomic_write_json": "ganzoo.runs.files", "sha256_file": "ganzoo.runs.files",
    "default_home": "ganzoo.store.records",
    # stored models
    "load_generator": "ganzoo.store.loading", "LoadedGenerator": "ganzoo.store.loading",
    # the built-in executors (plugins/executors.py registers them)
    "LocalExecutor": "ganzoo.sweep.executors.local", "RayExecutor": "ganzoo.sweep.executors.ray",
}

__all__ = [  # the public face; a test checks it equals the eager names plus _LAZY
    "__version__", "API_VERSION", "ArchitectureSpec", "atomic_write", "atomic_write_json", "build_registry",
    "ComposedLoss", "ConfigError", "Constraint", "CriticStep", "DataError", "DatasetSpec", "default_home",
    "DuplicateNameError", "exact_w1", "Executor", "ExecutorEvents", "ExecutorSpec", "Experiment", "ExperimentContext",
    "ExperimentSpec", "Findings", "GANLoss", "GanzooError", "get_registry", "hookimpl", "IMAGES", "images_to_uint8",
    "load_generator", "LoadedGenerator", "LocalExecutor", "LossSpec", "Metric", "MetricSpec", "mode_statistics",
    "Objective", "PluginError", "POINTS", "RayExecutor", "RealData", "Reference", "reference_of", "reset_registry",
    "SampledData", "sha256_file", "StorageError", "Table", "TensorData", "to_unit_range", "TrainingDefaults",
    "UnknownNameError", "Verdict",
]

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time __getattr__ imports these on first use
    from ganzoo.plugin.data import IMAGES, POINTS, RealData, SampledData, TensorData, images_to_uint8, to_unit_range
    from ganzoo.plugin.experiment import Experiment, ExperimentContext, Findings, Table, Verdict
    from ganzoo.plugin.loading import build_registry, get_registry, reset_registry
    from ganzoo.plugin.loss import ComposedLoss, Constraint, CriticStep, GANLoss, Objective
    from ganzoo.plugin.metric import Metric, Reference, reference_of
    from ganzoo.plugin.points import exact_w1, mode_statistics
    from ganzoo.runs.files import atomic_write, atomic_write_json, sha256_file
    from ganzoo.store.loading import LoadedGenerator, load_generator
    from ganzoo.store.records import default_home
    from ganzoo.sweep.executors.local import LocalExecutor
    from ganzoo.sweep.executors.ray import RayExecutor


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ganzoo' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
