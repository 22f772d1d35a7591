"""The model store (``GANZOO_HOME``): trained models as safetensors + config.json + a model card, indexed in SQLite,
loaded back through the plugin registry. ``from ganzoo.store import ModelStore`` is the way in.

Modules: :mod:`~ganzoo.store.model_store` (the store), :mod:`~ganzoo.store.index` (its SQLite index),
:mod:`~ganzoo.store.folders` (staging, trash, manifests), :mod:`~ganzoo.store.intake` (what comes in, checked),
:mod:`~ganzoo.store.recovery` (after a crash or a lost index), :mod:`~ganzoo.store.artifact` (a stored model's
config.json), :mod:`~ganzoo.store.cards` (model cards), :mod:`~ganzoo.store.loading` (``load_generator``),
:mod:`~ganzoo.store.sampling` (``ganzoo sample``).
"""

from ganzoo.store.index import IndexDamagedError
from ganzoo.store.loading import LoadedGenerator, load_critic, load_generator
from ganzoo.store.model_store import ModelStore, repair_store
from ganzoo.store.records import (
    CARD_FILE,
    CONFIG_FILE,
    CRITIC_FILE,
    CURVES_FILE,
    EXPORT_WEIGHTS,
    GENERATOR_EMA_FILE,
    GENERATOR_FILE,
    LOG_FILE,
    MANIFEST_FILE,
    RESULTS_FILE,
    SAMPLES_FILE,
    IntegrityError,
    ModelRecord,
    default_home,
    parse_ref,
    validate_name,
)
from ganzoo.store.recovery import RepairReport

__all__ = [
    "CARD_FILE", "CONFIG_FILE", "CRITIC_FILE", "CURVES_FILE", "EXPORT_WEIGHTS", "GENERATOR_EMA_FILE", "GENERATOR_FILE",
    "LOG_FILE", "MANIFEST_FILE", "RESULTS_FILE", "SAMPLES_FILE", "IndexDamagedError", "IntegrityError",
    "LoadedGenerator", "ModelRecord", "ModelStore", "RepairReport", "default_home", "load_critic", "load_generator",
    "parse_ref", "repair_store", "validate_name",
]
