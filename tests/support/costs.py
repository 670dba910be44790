"""Costs measured as CPU time, for the tests that show a cost grows linearly (never a timed test: a
ratio between two sizes, with room for a loaded machine)."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable


def cpu_cost(action: Callable[[], object], repeat: int = 5) -> float:
    """The least CPU time of ``repeat`` runs of ``action``: other processes on the machine do not
    count, and the least of several is the run least disturbed."""
    best = float("inf")
    gc.disable()
    try:
        for _ in range(repeat):
            start = time.process_time()
            action()
            best = min(best, time.process_time() - start)
    finally:
        gc.enable()
    return best


def grows_linearly(cost: Callable[[int], float], small: int, factor: int = 8) -> None:
    """The cost at ``factor`` times the size is at most 4 * ``factor`` times the cost at ``small``:
    linear growth passes with room to spare (sorting adds a little), quadratic growth (64 times for
    a factor of 8) and backtracking fail."""
    cost(small)  # warm the caches the first call fills
    low, high = cost(small), cost(small * factor)
    assert high <= 4 * factor * max(low, 1e-4), (low, high)
