"""ganzoo: a plugin-based GAN zoo."""

from ganzoo.hookspecs import API_VERSION, hookimpl
from ganzoo.specs import ArchitectureSpec, DatasetSpec, LossSpec, MetricSpec, TrainingDefaults

__version__ = "0.1.0"

__all__ = [
    "API_VERSION",
    "ArchitectureSpec",
    "DatasetSpec",
    "LossSpec",
    "MetricSpec",
    "TrainingDefaults",
    "__version__",
    "hookimpl",
]
