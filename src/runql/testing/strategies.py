"""Hypothesis strategies for runs, experiments, workspaces and queries (``pip install runql[strategies]``).

The data holds what real stores hold and what trips them: keys with dots, spaces, hyphens and
non-ASCII letters; NaN and infinite metrics; histories whose points tie on step and on timestamp;
params that look like numbers; empty strings; quotes, ``%`` and ``_`` in values; runs that never
ended; start-time ties. Queries are valid for their profile (they pass :func:`runql.validate`), are
written by :func:`runql.unparse` with every spelling of the prefixes the profile accepts, and name
mostly keys and values the data holds, so that filters select something::

    from hypothesis import given
    from runql import strategies as rst

    @given(rst.search_cases())
    def test_my_store(case):
        runs, query = case
        ...

``Vocabulary`` is the pool both sides draw from; :meth:`Vocabulary.store_safe` leaves out what
MLflow's SQL store is known to treat otherwise (newlines, case-folding non-ASCII, infinities).

This module is the public face (``runql.strategies``) of two parts: the data
(:mod:`runql.testing.data_strategies`) and the queries about it (:mod:`runql.testing.query_strategies`).
"""

from __future__ import annotations

from runql.testing.data_strategies import (
    DEFAULT_VOCABULARY,
    T0,
    Vocabulary,
    experiments,
    histories,
    logged_models,
    registries,
    runs,
    workspaces,
)
from runql.testing.query_strategies import filter_strings, order_by_clauses, queries, search_cases

__all__ = [
    "DEFAULT_VOCABULARY",
    "T0",
    "Vocabulary",
    "experiments",
    "filter_strings",
    "histories",
    "logged_models",
    "order_by_clauses",
    "queries",
    "registries",
    "runs",
    "search_cases",
    "workspaces",
]
