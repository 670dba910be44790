"""A pytest fixture that checks a backend's search against runql's reference in one line.

Installed with runql, pytest finds it (entry point ``pytest11``)::

    def test_my_store_searches_like_mlflow(runql_conformance):
        runql_conformance(my_search)            # my_search(runs, filter_string, order_by) -> run ids

The fixture is :func:`runql.testing.conformance.check_backend`; hypothesis is imported only when it is used.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def runql_conformance() -> Any:
    """:func:`runql.testing.conformance.check_backend`, ready to call with a backend's search function."""
    from runql.testing.conformance import check_backend

    return check_backend
