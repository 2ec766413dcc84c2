"""A small per-process cache for reference data read on every checkout
(lanes, tariffs, rates, duty rules). Entries live a few seconds, so an edit
in the admin reaches checkout within that time without any invalidation."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")
_caches: list[ReferenceCache[object]] = []


class ReferenceCache(Generic[T]):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._entries: dict[Hashable, tuple[float, T]] = {}
        self._lock = threading.Lock()
        _caches.append(self)  # type: ignore[arg-type]

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            return entry[1]
        value = compute()
        with self._lock:
            self._entries[key] = (now + self.seconds, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def reference_caches_clear() -> None:
    """Forget everything (tests, and after bulk reference-data imports)."""
    for cache in _caches:
        cache.clear()
