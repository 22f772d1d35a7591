"""A bounded, thread-safe least-recently-used cache of loaded models, so a request never reloads weights.

The page serves many requests from a thread pool; loading a generator (rebuild the network, read and sha256-check
the safetensors file) costs far more than sampling from it. Keys are resolved store references ("name:version"),
so a newer version of a model is a different key, and an old version falls out once ``maxsize`` newer ones were used.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from ganzoo.errors import ConfigError

V = TypeVar("V")


class LRUCache(Generic[V]):
    """``get(key)`` returns the cached value or calls ``loader(key)`` once and keeps the result.

    ``loads``, ``hits`` and ``evictions`` count what happened (tests and the serve benchmark report them). Loading
    happens under the cache's lock: two requests for the same uncached model load it once, and loads are rare.
    """

    def __init__(self, loader: Callable[[str], V], maxsize: int = 4) -> None:
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise ConfigError(f"cache size must be a whole number >= 1, got {maxsize!r}", hint="e.g. --cache-size 4")
        self._loader = loader
        self.maxsize = maxsize
        self._items: OrderedDict[str, V] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0
        self.hits = 0
        self.evictions = 0

    def get(self, key: str) -> V:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
            value = self._loader(key)
            self.loads += 1
            self._items[key] = value
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
                self.evictions += 1
            return value

    def keys(self) -> list[str]:
        """Cached keys, least recently used first."""
        with self._lock:
            return list(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
