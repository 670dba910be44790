"""A plain ``postgresql://`` URL with the documented extras: the driver SQLAlchemy picks for it is one the
``postgres`` extra installs, a missing driver is one line saying what to install, and the URL reads an
MLflow database on PostgreSQL, its histories included."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sa = pytest.importorskip("sqlalchemy")
tomllib = pytest.importorskip("tomllib")  # Python 3.11 on

from runql import MissingDependencyError, from_mlflow_db  # noqa: E402

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
# The distribution that brings each of SQLAlchemy's PostgreSQL drivers.
DISTRIBUTIONS = {"psycopg": "psycopg", "psycopg2": "psycopg2-binary"}


def requirement_names(extra: str) -> set[str]:
    requirements = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"][extra]
    return {requirement.split("[")[0].split(">")[0].split("=")[0].strip() for requirement in requirements}


@pytest.mark.parametrize("extra", ["postgres", "test"])
def test_the_extra_installs_the_driver_of_a_plain_url(extra: str) -> None:
    plain = sa.engine.make_url("postgresql://someone@host/db").get_dialect().driver
    explicit = sa.engine.make_url("postgresql+psycopg2://someone@host/db").get_dialect().driver
    assert {DISTRIBUTIONS[plain], DISTRIBUTIONS[explicit]} <= requirement_names(extra)


def test_a_missing_driver_is_one_line_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes `import psycopg` fail as it does where the package is not installed.
    for module in ("psycopg", "psycopg2"):
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(MissingDependencyError) as caught:
        from_mlflow_db("postgresql://someone:secret@127.0.0.1:1/mlflow")
    message = str(caught.value)
    assert "\n" not in message and "secret" not in message
    assert "needs the PostgreSQL driver" in message and "pip install 'runql[postgres]'" in message


def test_a_plain_postgresql_url_reads_the_database(new_postgres_database: Callable[..., str]) -> None:
    pytest.importorskip("psycopg")
    pytest.importorskip("mlflow")
    from support.mlflow_stores import write_with_mlflow

    url = new_postgres_database(mlflow_schema=True)  # postgresql+psycopg2://..., as the fixtures give
    t0 = 1_700_000_000_000
    ids = write_with_mlflow(
        url,
        [
            {
                "run_id": "a",
                "experiment_id": "0",
                "user_id": "alice",
                "start_time": t0,
                "metrics": {"loss": [{"value": 0.5, "step": 0, "timestamp": t0}, {"value": 0.25, "step": 1}]},
                "params": {"lr": "0.1"},
            }
        ],
    )
    driver, rest = url.split("://", 1)
    assert driver == "postgresql+psycopg2"
    plain = f"postgresql://{rest}"
    for histories in (False, True):  # read when asked for (another connection later), or all at load
        ws = from_mlflow_db(plain, histories=histories)
        run = ws.get_run(ids["a"])
        assert (run.data.metrics, run.data.params) == ({"loss": 0.25}, {"lr": "0.1"})
        assert [(p.step, p.value) for p in ws.get_metric_history(ids["a"], "loss")] == [(0, 0.5), (1, 0.25)]
        found = ws.search_runs(
            search_all_experiments=True, filter_string="min(metrics.loss) < 0.3", profile="extended"
        )
        assert list(found["run_id"]) == [ids["a"]]
