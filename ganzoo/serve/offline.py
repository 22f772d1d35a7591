"""Gradio without outbound network: the environment it reads at import time, set before it is imported.

Gradio checks PyPI for a newer version and sends usage analytics unless ``GRADIO_ANALYTICS_ENABLED`` is off;
huggingface_hub (imported by Gradio and gradio_client) honours ``HF_HUB_OFFLINE``; and Gradio's start-up probes its
own local URL through any configured HTTP proxy unless localhost is in ``NO_PROXY``.
"""

from __future__ import annotations

import os
from types import ModuleType

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def offline_environment() -> None:
    """Set the variables above (idempotent; an existing NO_PROXY list is extended, not replaced)."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    for key in ("NO_PROXY", "no_proxy"):
        present = [h.strip() for h in os.environ.get(key, "").split(",") if h.strip()]
        os.environ[key] = ",".join(present + [h for h in LOCAL_HOSTS if h not in present])


def import_gradio() -> ModuleType:
    """``gradio``, imported after :func:`offline_environment` (the first import takes about 10 s)."""
    offline_environment()
    import gradio

    return gradio
