from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings

if TYPE_CHECKING:
    # Imported where used: it needs SQLAlchemy, which the tests that use no database can do without.
    from support.services import PostgresServer

# CI runs derandomized, so a red build is reproducible; locally hypothesis explores freely.
settings.register_profile(
    "ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


# -- databases ------------------------------------------------------------------------------------
# MLflow tracking databases for tests to write: SQLite files, and databases on a PostgreSQL server
# (tests/services.py says which server). Each comes empty, or with MLflow's empty schema copied from
# one made once per session: MLflow's migrations take seconds per database. The factories serve
# module-scoped fixtures and hypothesis tests, which cannot use function-scoped fixtures.


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The PostgreSQL server of the session: RUNQL_TEST_POSTGRES_URL's, or a throwaway one started here."""
    from support import services

    try:
        with services.postgres_server() as server:
            yield server
    except services.PostgresUnavailable as error:
        services.postgres_unavailable(str(error))


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """The SQLAlchemy URL of the session's PostgreSQL database; its role may create databases."""
    return postgres_server.url


@pytest.fixture(scope="session")
def mlflow_postgres_template(postgres_server: PostgresServer) -> str:
    """The URL of a database holding MLflow's empty schema, to copy: nothing may stay connected to it."""
    from support.mlflow_stores import create_mlflow_schema

    url = postgres_server.create_database()
    create_mlflow_schema(url)
    return url


@pytest.fixture(scope="session")
def mlflow_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file holding MLflow's empty schema, to copy."""
    from support.mlflow_stores import create_mlflow_schema

    path = tmp_path_factory.mktemp("template") / "mlflow.db"
    create_mlflow_schema(_sqlite_url(path))
    return path


@pytest.fixture(scope="session")
def new_postgres_database(
    postgres_server: PostgresServer, request: pytest.FixtureRequest
) -> Callable[..., str]:
    """``new_postgres_database(mlflow_schema=False)``: the URL of a new database on the session's server,
    empty or holding MLflow's empty schema. All are dropped when the session ends."""

    def make(mlflow_schema: bool = False) -> str:
        if not mlflow_schema:
            return postgres_server.create_database()
        # Asked for here, not as a parameter: a session that wants only empty databases never makes it.
        return postgres_server.create_database(template=request.getfixturevalue("mlflow_postgres_template"))

    return make


@pytest.fixture(scope="session")
def new_sqlite_database(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Callable[..., str]:
    """``new_sqlite_database(mlflow_schema=False)``: the URL of a new SQLite file, not yet created or
    holding MLflow's empty schema."""
    folder = tmp_path_factory.mktemp("sqlite")
    numbers = itertools.count()

    def make(mlflow_schema: bool = False) -> str:
        path = folder / f"mlflow-{next(numbers)}.db"
        if mlflow_schema:
            shutil.copyfile(request.getfixturevalue("mlflow_sqlite_template"), path)
        return _sqlite_url(path)

    return make


@pytest.fixture
def fresh_postgres_database(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped after the test."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)


@pytest.fixture
def fresh_mlflow_postgres_database(
    postgres_server: PostgresServer, mlflow_postgres_template: str
) -> Iterator[str]:
    """The URL of a new PostgreSQL database holding MLflow's empty schema, dropped after the test."""
    url = postgres_server.create_database(template=mlflow_postgres_template)
    yield url
    postgres_server.drop_database(url)


@pytest.fixture
def fresh_sqlite_url(tmp_path: Path) -> str:
    """The URL of a SQLite file in the test's tmp_path that does not exist yet (MLflow's store creates it)."""
    return _sqlite_url(tmp_path / "mlflow.db")


@pytest.fixture
def fresh_mlflow_sqlite_url(tmp_path: Path, mlflow_sqlite_template: Path) -> str:
    """The URL of a SQLite file in the test's tmp_path holding MLflow's empty schema."""
    path = tmp_path / "mlflow.db"
    shutil.copyfile(mlflow_sqlite_template, path)
    return _sqlite_url(path)


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"
