"""``ganzoo serve``: a Gradio page and an HTTP sampling API, on one server, for the models in the store.

Importing this package is cheap: Gradio (about 10 s to import) and torch load only when :func:`build_app` or
:func:`~ganzoo.serve.server.build_server` is first used. Parts: :mod:`.service` (the actions), :mod:`.batching`
(joins concurrent sample requests into one forward pass), :mod:`.api` (the HTTP routes), :mod:`.app` (the page),
:mod:`.server` (both on one FastAPI/uvicorn server), :mod:`.cache` (the LRU of loaded models), :mod:`.validation`
(input checks), :mod:`.distances` (the P_0/P_theta teaching example), :mod:`.figures` (thread-safe pictures),
:mod:`.offline` (no outbound network), :mod:`.compare_tab` (the Compare tab).
"""

from __future__ import annotations

from typing import Any

__all__ = ["SamplingService", "build_app", "build_server", "serving"]


def __getattr__(name: str) -> Any:
    if name == "build_app":
        from ganzoo.serve.app import build_app

        return build_app
    if name in ("build_server", "serving"):
        from ganzoo.serve import server

        return getattr(server, name)
    if name == "SamplingService":
        from ganzoo.serve.service import SamplingService

        return SamplingService
    raise AttributeError(f"module 'ganzoo.serve' has no attribute {name!r}")
