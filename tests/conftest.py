from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings

if TYPE_CHECKING:
    # Imported where used: it needs SQLAlchemy, which the tests that use no database can do without.
    from support.services import PostgresServer

# CI runs derandomized, so a red build is reproducible; locally hypothesis explores freely.
settings.register_profile("ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
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


# -- Java -------------------------------------------------------------------------------------------
# Spark runs on Java: the tests of runql.engines.spark need a Java runtime (a JRE 17, as CI's machine
# has). Without one, pyspark fails each of them with a gateway error; they fail instead with one line
# saying what is missing, on CI, and are skipped with it elsewhere, as the PostgreSQL tests are
# (support.services.postgres_unavailable).

JAVA_NEEDED = (
    "the Spark tests need a Java runtime, a JRE 17 (on Debian: apt-get install openjdk-17-jre-headless)"
)


def java_problem(environ: dict[str, str] | None = None) -> str | None:
    """Why Spark cannot start here: no Java where pyspark looks for it (``$JAVA_HOME/bin/java``, else
    ``java`` on PATH), or a Java older than the installed Spark needs; None when it can."""
    environ = dict(os.environ) if environ is None else environ
    home = environ.get("JAVA_HOME")
    java = os.path.join(home, "bin", "java") if home else shutil.which("java", path=environ.get("PATH"))
    if java is None or not os.access(java, os.X_OK):
        where = f"JAVA_HOME={home} has no bin/java" if home else "no java on PATH and JAVA_HOME is not set"
        return f"Java is not installed ({where}): {JAVA_NEEDED}"
    import pyspark

    # Spark 4 runs on Java 17 and later; Spark 3.5 on Java 8 and later.
    minimum = 17 if int(pyspark.__version__.split(".")[0]) >= 4 else 8
    shown = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    found = re.search(r'version "(\d+)(?:\.(\d+))?', shown.stderr + shown.stdout)
    if found is None:
        return f"{java} -version does not say which Java it is: {JAVA_NEEDED}"
    major = int(found[2] or 0) if found[1] == "1" else int(found[1])  # Java 8 calls itself 1.8
    if major < minimum:
        return f"{java} is Java {major}; Spark {pyspark.__version__} needs Java {minimum}: {JAVA_NEEDED}"
    return None


@pytest.fixture(scope="session")
def java() -> None:
    """Stops a test that starts Spark when Java cannot run it: a failure on CI (``CI`` set), a skip
    elsewhere, with the reason in one line."""
    problem = java_problem()
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(problem, pytrace=False)
    pytest.skip(problem)
