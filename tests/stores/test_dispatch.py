"""``runql.connect`` and ``Workspace.load`` choose what reads a source from one table of URL schemes
(:mod:`runql.sources.schemes`)."""

from __future__ import annotations

import importlib
import sqlite3
import sys
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

import runql
from runql.engines.sql import Schema
from runql.sources import schemes
from runql.sources.mlflow_db import connect_url
from runql.sources.schemes import scheme_kind, source_kind
from runql.stores.sql import SqlStore


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("sqlite:///mlflow.db", "mlflow-db"),
        ("postgresql+psycopg2://someone:secret@host/db", "mlflow-db"),
        ("mysql+pymysql://host/db", "mlflow-db"),
        ("MSSQL://host/db", "mlflow-db"),
        ("http://127.0.0.1:5000", "mlflow"),
        ("https://tracking.example", "mlflow"),
        ("databricks", "mlflow"),
        ("databricks://profile", "mlflow"),
        ("databricks-uc://profile", "mlflow"),
        ("azureml://westeurope.api.azureml.ms/mlflow/v1.0/subscriptions/s", "mlflow"),
    ],
)
def test_a_url_is_told_by_its_scheme(source: str, kind: str) -> None:
    assert scheme_kind(source) == kind
    assert source_kind(source) == kind  # what Workspace.load reads it with


def test_a_local_path_is_told_by_what_is_there(tmp_path: Path) -> None:
    database = tmp_path / "runs.bin"
    database.write_bytes(b"SQLite format 3\x00" + bytes(100))
    saved = tmp_path / "saved.jsonl"
    saved.write_text("{}\n")
    for path in (tmp_path, database, saved, tmp_path / "missing.db"):
        assert scheme_kind(path) is None and scheme_kind(path.as_uri()) is None
    assert [source_kind(path) for path in (tmp_path, tmp_path.as_uri(), database, saved)] == [
        "mlflow-dir",
        "mlflow-dir",
        "mlflow-db",
        "jsonl",
    ]
    with pytest.raises(runql.StoreError) as caught:
        source_kind(tmp_path / "missing.db")
    assert caught.value.code == "not-found"


@pytest.mark.parametrize("read", [scheme_kind, source_kind, runql.connect, runql.Workspace.load])
def test_a_scheme_no_store_reads_is_refused_in_one_line(read: Callable[[str], Any]) -> None:
    with pytest.raises(runql.StoreError) as caught:
        read("foo+bar://someone:s3cret@host/x")
    message = str(caught.value)
    assert caught.value.code == "not-a-store" and "\n" not in message and "s3cret" not in message
    assert message.startswith("foo+bar://someone:***@host/x: no store reads the scheme 'foo+bar'")


def test_a_scheme_an_mlflow_plugin_registers_is_a_tracking_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schemes, "_plugin_schemes", lambda: frozenset({"myplugin"}))
    assert scheme_kind("myplugin://somewhere") == "mlflow"
    with pytest.raises(runql.StoreError):
        scheme_kind("otherplugin://somewhere")


def test_connect_chooses_the_store_and_refuses_arguments_of_the_other(
    new_sqlite_database: Callable[..., str],
) -> None:
    url = new_sqlite_database(mlflow_schema=True)
    path = url.removeprefix("sqlite:///")
    for source in (url, path, Path(path), Path(path).as_uri()):
        with runql.connect(source) as store:
            assert type(store) is SqlStore and store.search_runs(output_format="list") == []
    with pytest.raises(TypeError, match="target"):
        runql.connect(url, target="mlflow")
    for server in ("http://127.0.0.1:1", "databricks"):  # refused before any request
        with pytest.raises(TypeError, match="schema"):
            runql.connect(server, schema=Schema())


def test_without_sqlalchemy_a_database_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, new_sqlite_database: Callable[..., str]
) -> None:
    url = new_sqlite_database(mlflow_schema=True)
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)  # what an import of a missing package meets
    monkeypatch.delitem(sys.modules, "runql.stores.sql")
    with pytest.raises(runql.MissingDependencyError, match=r"runql\[mlflow-db\]"):
        importlib.import_module("runql.stores.sql")
    with pytest.raises(runql.MissingDependencyError, match=r"runql\[mlflow-db\]"):
        runql.connect(url)


def test_a_plugin_servers_url_is_its_database(tmp_path: Path) -> None:
    """``runql+sqlite:///...``, the URL an `mlflow server` with runql's plugin is given, names a database."""
    database = tmp_path / "mlflow.db"
    with closing(sqlite3.connect(database)) as connection:
        connection.execute("CREATE TABLE t (x)")
    assert scheme_kind(f"runql+sqlite:///{database}") == "mlflow-db"
    assert connect_url(f"runql+sqlite:///{database}")[1] == str(database)
