"""Evaluators: ``reference`` (row by row, the specification) and ``columnar`` (vectorized)."""

from .reference import (
    filter_experiments,
    filter_runs,
    matches,
    paginate,
    sort_experiments,
    sort_runs,
)

__all__ = ["filter_experiments", "filter_runs", "matches", "paginate", "sort_experiments", "sort_runs"]
