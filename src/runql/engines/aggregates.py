"""Functions of a metric's whole history: ``min(metrics.loss)``, ``at_step(metrics.loss, 10)``...

One meaning, written down in docs/syntax.md, computed three ways that must agree: :func:`history_value`
over one run's points (the reference evaluator, here), over the points of every run at once (the
columnar engine, :mod:`runql.engines.columnar`) and in SQL (:mod:`runql.engines.sql`).

* The points are every logged point of the metric. A run without a point has no value (missing), as a
  run without the metric has none for ``metrics.<name>``.
* ``min``, ``max`` and ``avg`` skip NaN points; a history of NaN points only gives NaN. ``avg`` is the
  correctly rounded sum (``math.fsum``) divided by the number of values; a sum past the largest float
  (MLflow stores infinity as the largest float, and two of them pass it) is taken of the values scaled
  by 2**-64, so a mean of finite values is finite, as it is in SQL.
* ``count`` counts every point, NaN points included.
* ``last`` is the latest value, exactly ``metrics.<name>``: the greatest step, then the greatest
  timestamp (MLflow's rule, :func:`runql.model.entities.latest_metric`).
* ``first`` is the point of the smallest step, then the smallest timestamp; of points tied on both, a
  number before NaN, then the smallest value.
* ``at_step(m, s)`` is the point at step ``s`` with the greatest timestamp; of points tied on it, a
  number before NaN, then the greatest value. A run with no point at step ``s`` has no value.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence

from runql.language.ast import Aggregate, Key
from runql.model.entities import Metric, latest_metric

__all__ = ["history_value", "mean", "number_first", "number_last"]


# A history has fewer than 2**64 points, so the sum of its values scaled by this cannot overflow; scaling
# by a power of two is exact but for values near the smallest floats, which such a sum does not notice.
_SCALE = 2.0**-64
_LARGEST = sys.float_info.max


def mean(values: Sequence[float]) -> float:
    """The mean of ``values`` (no NaN among them, at least one), from their correctly rounded sum."""
    count = len(values)
    try:
        return math.fsum(values) / count
    except ValueError:  # inf and -inf together
        return math.nan
    except OverflowError:  # the sum of finite values passes the largest float, their mean does not
        scaled = math.fsum(v * _SCALE for v in values) / count / _SCALE
        return max(-_LARGEST, min(_LARGEST, scaled))  # rounding must not push it past the largest float


def history_value(points: Sequence[Metric], key: Key) -> float | None:
    """The value of the aggregate ``key`` over one run's ``points``; None when the run has none."""
    aggregate = key.aggregate
    assert aggregate is not None, "a plain key is read from the run's latest values"
    if aggregate is Aggregate.AT_STEP:
        points = [p for p in points if p.step == key.step]
    if not points:
        return None
    match aggregate:
        case Aggregate.COUNT:
            return float(len(points))
        case Aggregate.LAST:
            return float(latest_metric(points).value)
        case Aggregate.FIRST:
            return float(min(points, key=lambda p: (p.step, p.timestamp, *number_first(p.value))).value)
        case Aggregate.AT_STEP:
            return float(max(points, key=lambda p: (p.timestamp, *number_last(p.value))).value)
        case Aggregate.MIN | Aggregate.MAX | Aggregate.AVG:
            values = [p.value for p in points if not math.isnan(p.value)]
            if not values:
                return math.nan
            if aggregate is Aggregate.MIN:
                return float(min(values))
            if aggregate is Aggregate.MAX:
                return float(max(values))
            return mean(values)
    raise AssertionError(f"unhandled aggregate {aggregate}")  # pragma: no cover


def number_first(value: float) -> tuple[bool, float]:
    """Orders a number before NaN, and numbers upwards."""
    return (True, 0.0) if math.isnan(value) else (False, value)


def number_last(value: float) -> tuple[bool, float]:
    """Orders NaN before a number, and numbers upwards: the greatest is the one kept."""
    return (False, 0.0) if math.isnan(value) else (True, value)
