"""Conformance you can measure: drive any backend's search against runql's reference evaluator.

:func:`check_backend` generates runs and valid queries (``runql.testing.strategies``), asks the backend,
and raises :class:`ConformanceError` with hypothesis's smallest failing example when an answer
differs from the reference evaluator's. It needs hypothesis (``pip install runql[strategies]``).

``python -m runql.testing.conformance --report`` measures runql itself against MLflow, layer by layer:
(1) accept or refuse, (2) results of MLflow's in-memory search, (3) results of a real MLflow
SQLite store. It needs MLflow, which runql otherwise never imports.

:func:`check_server` measures a tracking server (``runql conform URI``): it logs generated runs into it
and compares its answers, page by page, with the reference evaluator's.

This module is the public face (``runql.conformance``) of four parts: the kit
(:mod:`runql.testing.kit`), MLflow's answers (:mod:`runql.testing.mlflow_oracle`), the layers that
compare runql's with them (:mod:`runql.testing.differential`) and the server check
(:mod:`runql.testing.server_check`).
"""

from __future__ import annotations

from runql.testing.differential import LayerResult, main
from runql.testing.kit import (
    DEFAULT_EXAMPLES,
    ConformanceError,
    check_backend,
    examples,
    expected_ids,
    row_id,
)
from runql.testing.mlflow_oracle import MlflowUnavailableError
from runql.testing.server_check import CATEGORIES, Disagreement, ServerReport, check_server

__all__ = [
    "CATEGORIES",
    "DEFAULT_EXAMPLES",
    "ConformanceError",
    "Disagreement",
    "LayerResult",
    "MlflowUnavailableError",
    "ServerReport",
    "check_backend",
    "check_server",
    "examples",
    "expected_ids",
    "main",
    "row_id",
]

if __name__ == "__main__":
    raise SystemExit(main())
