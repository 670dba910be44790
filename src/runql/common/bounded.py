"""A least-recently-used cache bounded by the size of what it holds, not by how many entries.

The parse cache and the LIKE cache hold results whose memory grows with the text they were made from
(a parsed filter, a compiled pattern). A count bound lets a caller who sends large distinct texts fill
memory; a bound on the total length of the keys' texts does not. An entry larger than the whole
budget is computed and returned but never kept.

The budget is a function, read each time the cache checks its size, so that a module's documented
knob (``runql.language.parser.PARSE_CACHE_BUDGET``...) takes effect when it is rebound: a smaller
budget drops the least recently used entries at the next miss, and a budget of 0 keeps nothing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from functools import update_wrapper
from typing import Generic, TypeVar

__all__ = ["SizedCache", "sized_cache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SizedCache(Generic[K, V]):
    """``function(key)`` memoised while the summed ``size(key)`` of the kept keys is within ``budget()``."""

    def __init__(
        self, function: Callable[[K], V], size: Callable[[K], int], budget: Callable[[], int]
    ) -> None:
        self._function = function
        self._size = size
        self._budget = budget
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._total = 0
        self._lock = threading.Lock()
        update_wrapper(self, function)

    def __call__(self, key: K) -> V:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found[0]
        value = self._function(key)  # outside the lock: a slow parse does not hold up other threads
        weight = max(1, self._size(key))
        budget = self.budget
        with self._lock:
            if weight <= budget and key not in self._entries:
                self._entries[key] = (value, weight)
                self._total += weight
            # Also when nothing was added: the budget may have shrunk since the entries were kept.
            while self._total > budget:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._total -= dropped
        return value

    @property
    def budget(self) -> int:
        """The summed size the kept entries may reach, as it is now."""
        return self._budget()

    @property
    def total(self) -> int:
        """The summed size of the kept entries."""
        return self._total

    def __len__(self) -> int:
        return len(self._entries)

    def cache_clear(self) -> None:
        """Drop every kept entry, as ``functools.lru_cache``'s ``cache_clear`` does."""
        with self._lock:
            self._entries.clear()
            self._total = 0


def sized_cache(
    size: Callable[[K], int], budget: Callable[[], int]
) -> Callable[[Callable[[K], V]], SizedCache[K, V]]:
    """Decorator form of :class:`SizedCache` for a function of one hashable argument; ``budget`` is called
    whenever the size is checked (``lambda: MODULE_BUDGET`` follows the module attribute)."""

    def wrap(function: Callable[[K], V]) -> SizedCache[K, V]:
        return SizedCache(function, size, budget)

    return wrap
