"""Credentials never appear in a message: the password of a URL is hidden wherever runql shows one."""

from __future__ import annotations

import pytest

from runql import MissingDependencyError, StoreError, Workspace
from runql.common.redact import redact
from runql.stores.workspace import local_path


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql://alice:s3cret@db:5432/mlflow", "postgresql://alice:***@db:5432/mlflow"),
        ("postgresql://alice:p@ss@db/mlflow", "postgresql://alice:***@db/mlflow"),
        ("postgresql://alice:a@b@c@db/mlflow", "postgresql://alice:***@db/mlflow"),
        ("http://alice:token@127.0.0.1:1/", "http://alice:***@127.0.0.1:1/"),
        ("https://token@host/api", "https://***@host/api"),
        ("mysql+pymysql://u:pw@h/db and sqlite:///x.db", "mysql+pymysql://u:***@h/db and sqlite:///x.db"),
        ("failed: 'postgresql://ss@db/mlflow'", "failed: 'postgresql://***@db/mlflow'"),
        # No credentials: left as they are.
        ("http://host/path?mail=a@b.com", "http://host/path?mail=a@b.com"),
        ("sqlite:///runs@2024.db", "sqlite:///runs@2024.db"),
        ("a@b.com", "a@b.com"),
        ("/tmp/mlruns", "/tmp/mlruns"),
    ],
)
def test_redact_hides_the_password_and_keeps_the_rest(text: str, shown: str) -> None:
    assert redact(text) == shown


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://alice:p@ss@127.0.0.1:1/mlflow",
        "postgresql+psycopg2://alice:p@ss@127.0.0.1:1/mlflow",
        "mysql://alice:p@ss@127.0.0.1:1/mlflow",
    ],
)
def test_a_database_password_holding_an_at_sign_is_not_shown(url: str) -> None:
    pytest.importorskip("sqlalchemy")
    with pytest.raises((StoreError, MissingDependencyError)) as raised:
        Workspace.load(url)
    message = str(raised.value)
    assert "p@ss" not in message and "ss@" not in message and "***@127.0.0.1:1" in message
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_a_tracking_server_token_is_not_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    with pytest.raises(StoreError) as raised:
        Workspace.load("http://alice:tok@en@127.0.0.1:1/")
    message = str(raised.value)
    assert "tok" not in message and "en@" not in message
    assert raised.value.where == "http://alice:***@127.0.0.1:1/"


def test_a_remote_artifact_location_is_shown_without_its_password() -> None:
    with pytest.raises(ValueError, match=r"s3://key:\*\*\*@bucket/path") as raised:
        local_path("s3://key:secret@bucket/path")
    assert "secret" not in str(raised.value)


def test_a_password_a_driver_cut_apart_is_hidden_given_the_url() -> None:
    url = "postgresql://alice:p@ss@db/mlflow"
    message = 'could not translate host name "ss@db" to address'
    assert redact(message, url) == 'could not translate host name "***@db" to address'
    assert redact("mail max@db", "postgresql://alice:x@db/mlflow") == "mail max@db"
