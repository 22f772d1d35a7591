"""``ganzoo serve``: a Gradio page (and API) for sampling the models in the store.

Importing this package is cheap: Gradio (about 10 s to import) and torch load only when :func:`build_app` or
:func:`launch` is first used. Parts: :mod:`.service` (the actions), :mod:`.app` (the page), :mod:`.cache` (the LRU
of loaded models), :mod:`.validation` (input checks), :mod:`.distances` (the P_0/P_theta teaching example),
:mod:`.figures` (thread-safe pictures), :mod:`.offline` (no outbound network).
"""

from __future__ import annotations

from typing import Any

__all__ = ["SamplingService", "build_app", "launch"]


def __getattr__(name: str) -> Any:
    if name in ("build_app", "launch"):
        from ganzoo.serve import app

        return getattr(app, name)
    if name == "SamplingService":
        from ganzoo.serve.service import SamplingService

        return SamplingService
    raise AttributeError(f"module 'ganzoo.serve' has no attribute {name!r}")
