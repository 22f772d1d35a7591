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
    "load_generator",
]


def __getattr__(name: str) -> object:
    """``ganzoo.load_generator`` is imported on first use, so ``import ganzoo`` stays cheap (no torch)."""
    if name == "load_generator":
        from ganzoo.loading import load_generator

        return load_generator
    raise AttributeError(f"module 'ganzoo' has no attribute {name!r}")
