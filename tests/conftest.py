"""Hermetic test set-up: only ganzoo's built-in plugins load unless a test asks for more."""

from __future__ import annotations

import os

# Third-party plugins installed in the environment must not change what the tests see (STYLE.md lesson 8).
os.environ["GANZOO_LOAD_PLUGINS"] = ""
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402

from ganzoo.plugins import get_registry  # noqa: E402
from ganzoo.registry import Registry  # noqa: E402


@pytest.fixture
def registry() -> Registry:
    """The registry of the built-in plugins."""
    return get_registry()
