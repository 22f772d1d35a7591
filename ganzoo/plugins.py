"""Kept so that ``from ganzoo.plugins import build_registry`` (ganzoo 0.1) keeps working: plugin loading now lives
in :mod:`ganzoo.plugin.loading`, and its functions are importable from :mod:`ganzoo`."""

from ganzoo.plugin.loading import build_registry, get_registry, reset_registry

__all__ = ["build_registry", "get_registry", "reset_registry"]
