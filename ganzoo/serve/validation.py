"""Server-side checks of every input the sampling page accepts: type, range and (for models) form.

The page's widgets constrain what a browser sends, but the API accepts anything a client posts, so every value is
checked here before it reaches a model. A bad value raises :class:`~ganzoo.errors.GanzooError` saying what was
wrong and what is allowed; the page shows it as an error message.
"""

from __future__ import annotations

import ipaddress
import math
from typing import Any

from ganzoo.errors import GanzooError
from ganzoo.store import parse_ref

# server settings (here so that `ganzoo serve` can check them before importing torch and Gradio)
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 7860  # this machine only, unless asked otherwise
DEFAULT_CACHE_SIZE, DEFAULT_MAX_QUEUE, DEFAULT_CONCURRENCY = 4, 64, 2
MAX_CACHE, MAX_QUEUE, MAX_CONCURRENCY = 256, 10_000, 64
# dynamic batching (ganzoo/serve/batching.py): samples per forward pass, the opt-in linger of the last free slot,
# how many sample requests may wait before the server answers busy (HTTP 429)
DEFAULT_MAX_BATCH, DEFAULT_MAX_WAIT_MS, DEFAULT_QUEUE_SIZE = 256, 0.0, 64
MAX_BATCH, MAX_WAIT_MS = 4096, 1000.0
# request inputs
MAX_SAMPLES = 256
MAX_SEED = 2**32 - 1
MIN_FRAMES, MAX_FRAMES = 2, 32
MAX_REF_LENGTH = 120
_PATH_MARKS = ("/", "\\", "~")


def whole_number(value: Any, what: str, low: int, high: int) -> int:
    """``value`` as an int in [low, high]; floats with no fractional part (what JSON clients often send) pass."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        number = int(value)
    if number is None or not low <= number <= high:
        raise GanzooError(f"{what} must be a whole number from {low} to {high}, got {value!r}")
    return number


def real_number(value: Any, what: str, low: float, high: float) -> float:
    """``value`` as a finite float in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not low <= value <= high:
        raise GanzooError(f"{what} must be a number from {low:g} to {high:g}, got {value!r}")
    return float(value)


def sample_count(value: Any) -> int:
    return whole_number(value, "n", 1, MAX_SAMPLES)


def seed(value: Any, what: str = "seed") -> int:
    return whole_number(value, what, 0, MAX_SEED)


def frame_count(value: Any) -> int:
    return whole_number(value, "frames", MIN_FRAMES, MAX_FRAMES)


def model_ref(value: Any) -> str:
    """A model reference ("name" or "name:version") that passes the store's name check; never a path.

    The page loads models from the store only, by name; anything that looks like a file path is refused before
    the store is asked, with a message that says so.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        raise GanzooError("no model chosen", hint="pick a model from the list (`list_models` over the API)")
    if not isinstance(value, str):
        raise GanzooError(f"a model must be given by name, got {type(value).__name__} {value!r}",
                          hint="e.g. mlp-wgan-gp-gaussians8 or mlp-wgan-gp-gaussians8:1")
    ref = value.strip()
    if len(ref) > MAX_REF_LENGTH:
        raise GanzooError(f"model reference is {len(ref)} characters long; at most {MAX_REF_LENGTH} are allowed",
                          hint="use NAME or NAME:VERSION as `list_models` shows them")
    if any(mark in ref for mark in _PATH_MARKS) or ref.startswith(".") or ref.endswith((".safetensors", ".json")):
        raise GanzooError(f"{ref!r} looks like a file path; this page loads models from the store only, by name",
                          hint="store the model first (`ganzoo train` stores it; or `ganzoo models import DIR`), "
                               "then pick it by NAME or NAME:VERSION")
    parse_ref(ref)  # the store's own name and version check
    return ref


def host(value: Any) -> str:
    """A host name or IP address to bind."""
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value.strip()):
        raise GanzooError(f"invalid host {value!r}", hint="e.g. --host 127.0.0.1 (this machine only)")
    return value.strip()


def is_loopback(host_name: str) -> bool:
    """True for addresses only this machine can reach (localhost, 127.x, ::1)."""
    if host_name == "localhost":
        return True
    try:
        return ipaddress.ip_address(host_name).is_loopback
    except ValueError:
        return False


def auth_pair(value: str) -> tuple[str, str]:
    """``USER:PASS`` -> (user, password); both must be non-empty (the password may contain ':')."""
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise GanzooError("--auth must look like USER:PASS with both parts non-empty",
                          hint="e.g. --auth ann:correct-horse (the password may contain ':')")
    return user, password
