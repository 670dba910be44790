"""What ``read_mlflow`` makes of a server's models: a server before MLflow 3, which has no logged-model
endpoint, has no logged models; any other refusal is a StoreError quoting it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("mlflow")

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import ENDPOINT_NOT_FOUND, INTERNAL_ERROR

from runql.errors import StoreError
from runql.sources.mlflow_client import read_mlflow


def _refusing(code: int) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise MlflowException("no such endpoint here", error_code=code)

    return refuse


def test_a_server_without_logged_models_has_none(
    new_sqlite_database: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = new_sqlite_database(mlflow_schema=True)
    monkeypatch.setattr(mlflow.MlflowClient, "search_logged_models", _refusing(ENDPOINT_NOT_FOUND))
    records = read_mlflow(url)
    assert records.logged_models == [] and records.registry is not None


def test_another_refusal_is_a_store_error(
    new_sqlite_database: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = new_sqlite_database(mlflow_schema=True)
    monkeypatch.setattr(mlflow.MlflowClient, "search_logged_models", _refusing(INTERNAL_ERROR))
    with pytest.raises(StoreError, match="no such endpoint here"):
        read_mlflow(url)
