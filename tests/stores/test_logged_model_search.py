"""Logged models searched as MLflow's SQL store searches them: the same models in the same order, page by
page with the same tokens, on SQLite and PostgreSQL, from models MLflow itself wrote; in a workspace read
from the database, in the SQL store and through a tracking server. Metrics are logged on datasets, by two
runs, and tie on step and timestamp.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("mlflow")

from mlflow.exceptions import MlflowException
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
from support.mlflow_stores import write_logged_models
from support.services import mlflow_server

import runql
from runql.errors import ArgumentError, NotFoundError, UnsupportedQueryError
from runql.model.logged_models import LoggedModel, LoggedModelMetric

# name: (experiment, model type, params, tags, status, deleted, points (key, value, time, step, run, dataset))
Point = tuple[str, float, int, int, int, tuple[str, str] | None]
MODELS: dict[str, tuple[int, str | None, dict[str, str], dict[str, str], str, bool, list[Point]]] = {
    "m_a": (
        0,
        "sklearn",
        {"lr": "0.01"},
        {"team": "risk"},
        "READY",
        False,
        [
            ("acc", 0.9, 100, 0, 0, ("eval", "d1")),
            ("acc", 0.1, 200, 1, 0, ("eval", "d1")),
            ("acc", 0.95, 150, 0, 0, ("train", "d2")),
            ("loss", 0.3, 100, 0, 0, None),
        ],
    ),
    "m_b": (
        0,
        "xgboost",
        {"lr": "0.1"},
        {"team": "Risk"},
        "FAILED",
        False,
        # Tied on step and time, logged by two runs on two versions of eval: the least run id is latest.
        [("acc", 0.4, 100, 0, 0, ("eval", "d1")), ("acc", 0.6, 100, 0, 1, ("eval", "d2"))],
    ),
    "m_c": (0, None, {"lr": "0.01", "depth": "3"}, {}, "PENDING", False, []),
    "m_d": (
        1,
        "sklearn",
        {"lr": "0.001"},
        {"team": "vision"},
        "READY",
        False,
        [("acc", 0.7, 300, 2, 0, ("eval", "d1"))],
    ),
    "m-e": (0, "sklearn", {}, {"team": "risk"}, "READY", False, [("acc", 0.5, 100, 0, 1, ("eval", "d1"))]),
    "gone": (0, "sklearn", {"lr": "0.01"}, {"team": "risk"}, "READY", True, [("acc", 0.99, 100, 0, 0, None)]),
    # The #25858 shape: models whose metric ties on value, step and time, ordered by it and paged.
    **{
        f"tie{i}": (
            0,
            "lgbm",
            {"lr": "0.01"},
            {},
            "READY",
            False,
            [("acc", 0.5, 100, 0, i % 2, ("eval", "d1"))],
        )
        for i in range(5)
    },
}

FILTERS = [
    "",
    "name = 'm_a'",
    "name != 'm_a'",
    "name LIKE 'm%'",
    "name ILIKE 'M_%'",
    "name IN ('m_a', 'm_d', 'zz')",
    "name NOT IN ('m_a')",
    "model_type = 'sklearn'",
    "model_type != 'sklearn'",
    "artifact_location LIKE '%'",
    "lifecycle_stage = 'active'",
    "metrics.acc > 0.8",
    "metrics.acc = 0.1",
    "metrics.`acc` >= 0.5 AND metrics.acc < 0.55",
    "metrics.acc < 0.6 AND params.lr = '0.01'",
    "metrics.loss <= 0.3",
    "params.lr = '0.01'",
    "params.lr != '0.01'",
    "params.lr IN ('0.1', '0.001')",
    "params.depth NOT IN ('4')",
    "tags.team = 'risk'",
    "tags.team LIKE 'R%'",
    "tags.team ILIKE 'r%' AND attributes.name LIKE '%e'",
    "creation_timestamp > 0",
    "creation_time > 0 AND last_updated_timestamp >= 0",
]
ORDERS: list[list[dict[str, Any]] | None] = [
    None,
    [{"field_name": "metrics.acc", "ascending": False}],
    [{"field_name": "metrics.acc", "dataset_name": "eval"}],
    [{"field_name": "metrics.acc", "ascending": False, "dataset_name": "eval", "dataset_digest": "d2"}],
    [{"field_name": "name"}],
    [{"field_name": "model_type", "ascending": False}, {"field_name": "creation_time"}],
    [{"field_name": "status"}, {"field_name": "model_id", "ascending": False}],
]
DATASETS: list[list[dict[str, str]] | None] = [
    None,
    [{"dataset_name": "eval"}],
    [{"dataset_name": "eval", "dataset_digest": "d2"}],
    [{"dataset_name": "train"}, {"dataset_name": "nowhere"}],
]


def _write(url: str) -> tuple[str, str]:
    store = SqlAlchemyStore(url, "file:///runql-test-artifacts")
    try:
        experiments = [store.create_experiment("live"), store.create_experiment("other")]
        runs = [store.create_run(experiments[0], "u", 1000, [], name).info.run_id for name in ("r0", "r1")]
        models = []
        for name, (experiment, model_type, params, tags, status, deleted, points) in MODELS.items():
            metrics = [
                LoggedModelMetric(key, value, time, step, runs[run], *(dataset or (None, None)))
                for key, value, time, step, run, dataset in points
            ]
            model = LoggedModel(experiments[experiment], name, name, "", 0, 0, model_type, None, status)
            model.params, model.tags, model.metrics = params, tags, metrics
            model.lifecycle_stage = "deleted" if deleted else "active"
            models.append(model)
        write_logged_models(store, models)
    finally:
        SqlAlchemyStore._engine_map.pop(store.db_uri, None)
        store.engine.dispose()
    return experiments[0], experiments[1]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def written(request: pytest.FixtureRequest) -> Iterator[tuple[str, SqlAlchemyStore, list[str]]]:
    make = request.getfixturevalue(f"new_{'sqlite' if request.param == 'sqlite' else 'postgres'}_database")
    url: str = make(mlflow_schema=True)
    experiments = list(_write(url))
    mlflow_store = SqlAlchemyStore(url, "file:///runql-test-artifacts")
    yield url, mlflow_store, experiments
    SqlAlchemyStore._engine_map.pop(mlflow_store.db_uri, None)
    mlflow_store.engine.dispose()


@pytest.fixture(scope="module", params=["workspace", "sql", "server"])
def store(
    request: pytest.FixtureRequest,
    written: tuple[str, SqlAlchemyStore, list[str]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Any]:
    url = written[0]
    if request.param == "workspace":
        yield runql.from_mlflow_db(url)
    elif request.param == "sql":
        with runql.connect(url) as connected:
            yield connected
    else:
        with (
            mlflow_server(url, tmp_path_factory.mktemp("logged-model-server")) as server,
            runql.connect(server) as connected,
        ):
            yield connected


def _token_fields(token: str | None) -> dict[str, Any] | None:
    """What a page token holds. MLflow's server writes an order_by entry's defaults into it (``ascending``
    true, the dataset fields null), where its store leaves them out: both mean the same search."""
    if token is None:
        return None
    fields: dict[str, Any] = json.loads(base64.b64decode(token))
    entries = fields.get("order_by") or []
    defaults = {"ascending": True, "dataset_name": None, "dataset_digest": None}
    given = [{k: v for k, v in entry.items() if k not in defaults or v != defaults[k]} for entry in entries]
    fields["order_by"] = given or None
    return fields


def _pages(search: Callable[..., Any], **arguments: Any) -> list[Any]:
    """Every page of a search, two models at a time, each as its models' names and its token's fields."""
    pages, token = [], None
    while True:
        page = search(max_results=2, page_token=token, **arguments)
        pages.append(([m.name for m in page], _token_fields(page.token)))
        token = page.token
        if token is None or len(pages) > 20:
            return pages


def _same_pages(written: tuple[str, SqlAlchemyStore, list[str]], store: Any, **arguments: Any) -> None:
    _, mlflow_store, experiments = written
    expected = _pages(mlflow_store.search_logged_models, experiment_ids=experiments, **arguments)
    assert _pages(store.search_logged_models, experiment_ids=experiments, **arguments) == expected


@pytest.mark.parametrize("order_by", ORDERS)
@pytest.mark.parametrize("filter_string", FILTERS)
def test_filters_and_orders_page_as_mlflows_store(
    written: tuple[str, SqlAlchemyStore, list[str]],
    store: Any,
    filter_string: str,
    order_by: list[dict[str, Any]] | None,
) -> None:
    _same_pages(written, store, filter_string=filter_string or None, order_by=order_by)


@pytest.mark.parametrize("datasets", DATASETS)
@pytest.mark.parametrize("order_by", ORDERS[:4])
@pytest.mark.parametrize(
    "filter_string", ["", "metrics.acc >= 0.5", "params.lr = '0.01' AND metrics.acc < 0.5"]
)
def test_datasets_scope_the_metric_clauses_as_mlflows_store(
    written: tuple[str, SqlAlchemyStore, list[str]],
    store: Any,
    filter_string: str,
    order_by: list[dict[str, Any]] | None,
    datasets: list[dict[str, str]] | None,
) -> None:
    _same_pages(written, store, filter_string=filter_string or None, order_by=order_by, datasets=datasets)


def test_paging_across_ties_finds_every_model_once(
    written: tuple[str, SqlAlchemyStore, list[str]], store: Any
) -> None:
    order_by = [{"field_name": "metrics.acc", "ascending": False, "dataset_name": "eval"}]
    for size in (1, 2, 3):
        found, token = [], None
        while True:
            page = store.search_logged_models(
                written[2], "name LIKE 'tie%'", max_results=size, order_by=order_by, page_token=token
            )
            found += [m.name for m in page]
            token = page.token
            if token is None:
                break
        assert sorted(found) == [f"tie{i}" for i in range(5)]


REFUSED_BY_BOTH = [
    "metric.acc > 0.5",  # the prefixes are plural only
    "name > 'a'",
    "metrics.acc LIKE '0.5'",
    "tags.team IS NULL",
    "name = 'm_a' OR name = 'm_b'",
    "params.lr > '0.01'",
    "creation_timestamp LIKE '1%'",
]


@pytest.mark.parametrize("filter_string", REFUSED_BY_BOTH)
def test_what_mlflows_store_refuses_runql_refuses(
    written: tuple[str, SqlAlchemyStore, list[str]], store: Any, filter_string: str
) -> None:
    _, mlflow_store, experiments = written
    with pytest.raises(MlflowException):
        mlflow_store.search_logged_models(experiments, filter_string)
    with pytest.raises(UnsupportedQueryError):
        store.search_logged_models(experiments, filter_string)


@pytest.mark.parametrize(
    ("filter_string", "code"),
    [
        ('name = "m_a"', "unsupported-quoting"),  # MLflow compares the value with its double quotes
        ('metrics."acc" > 0', "unsupported-quoting"),
        ("status = 'READY'", "unknown-attribute"),  # MLflow compares the status's integer code
    ],
)
def test_what_mlflow_answers_wrongly_runql_refuses(
    written: tuple[str, SqlAlchemyStore, list[str]], store: Any, filter_string: str, code: str
) -> None:
    url, mlflow_store, experiments = written
    try:
        assert list(mlflow_store.search_logged_models(experiments, filter_string)) == []
    except MlflowException:
        assert url.startswith("postgresql") and "status" in filter_string  # 'READY' is no integer there
    with pytest.raises(UnsupportedQueryError) as refused:
        store.search_logged_models(experiments, filter_string)
    assert refused.value.diagnostics[0].code == code


@pytest.mark.parametrize(
    ("filter_string", "names"),
    [
        ("name LIKE 'm_a%' OR tags.team = 'vision'", ["m_a", "m_d"]),
        ("metrics.acc IS NULL", ["m_c"]),
        ("NOT params.lr = '0.01' AND params.lr IS NOT NULL", ["m_b", "m_d"]),
        ("status = 'FAILED' OR status = 'PENDING'", ["m_b", "m_c"]),
        ("name RLIKE '^m.[a-c]$'", ["m_a", "m_b", "m_c"]),
    ],
)
def test_the_extended_profile_searches_logged_models(
    written: tuple[str, SqlAlchemyStore, list[str]], store: Any, filter_string: str, names: list[str]
) -> None:
    found = store.search_logged_models(
        written[2], filter_string, order_by=[{"field_name": "name"}], profile="extended"
    )
    assert [m.name for m in found] == names


@pytest.mark.parametrize("kind", ["workspace", "sql"])
def test_a_token_continues_on_either_side(written: tuple[str, SqlAlchemyStore, list[str]], kind: str) -> None:
    # Between runql and MLflow's store. (MLflow's server writes an order_by's defaults into its tokens and
    # refuses its store's: docs/compatibility.md, logged-page-token.)
    url, mlflow_store, experiments = written
    arguments: dict[str, Any] = {
        "filter_string": "name LIKE 't%'",
        "order_by": [{"field_name": "metrics.acc", "ascending": True}],
        "max_results": 2,
    }
    with runql.from_mlflow_db(url) if kind == "workspace" else runql.connect(url) as store:
        theirs = mlflow_store.search_logged_models(experiments, **arguments)
        ours = store.search_logged_models(experiments, **arguments)
        after_theirs = store.search_logged_models(experiments, page_token=theirs.token, **arguments)
    after_ours = mlflow_store.search_logged_models(experiments, page_token=ours.token, **arguments)
    assert [m.name for m in after_theirs] == [m.name for m in after_ours] != []


def test_lookups_and_arguments(written: tuple[str, SqlAlchemyStore, list[str]], store: Any) -> None:
    _, mlflow_store, experiments = written
    first = mlflow_store.search_logged_models(experiments, "name = 'm_a'")[0]
    found = store.get_logged_model(first.model_id)
    assert (found.name, found.params, found.tags, found.status) == (
        "m_a",
        {"lr": "0.01"},
        {"team": "risk"},
        "READY",
    )
    assert sorted((m.key, m.value, m.step) for m in found.metrics) == sorted(
        (m.key, m.value, m.step) for m in first.metrics
    )
    with pytest.raises(NotFoundError):
        store.get_logged_model("m-00000000000000000000000000000000")
    with pytest.raises(ArgumentError, match="dataset_name"):
        store.search_logged_models(experiments, datasets=[{"dataset_digest": "d1"}])
    with pytest.raises(ArgumentError, match="field_name"):
        store.search_logged_models(experiments, order_by=[{"ascending": False}])
    with pytest.raises(UnsupportedQueryError):
        store.search_logged_models(experiments, order_by=[{"field_name": "params.lr"}])
    token = store.search_logged_models(experiments, max_results=1).token
    with pytest.raises(ArgumentError, match="filter_string"):
        store.search_logged_models(experiments, "name = 'm_a'", max_results=1, page_token=token)
    assert _token_fields(token) == {
        "experiment_ids": experiments,
        "filter_string": None,
        "order_by": None,
        "offset": 1,
    }


def test_a_workspace_loaded_from_a_server_holds_its_models(
    written: tuple[str, SqlAlchemyStore, list[str]], tmp_path: Any
) -> None:
    url, _, experiments = written
    with mlflow_server(url, tmp_path) as server:
        loaded = runql.from_mlflow(server)
    read = runql.from_mlflow_db(url)
    names = sorted(m.name for m in read._logged_models(experiments) if m.lifecycle_stage == "active")
    assert sorted(m.name for m in loaded._logged_models(experiments)) == names
    arguments: dict[str, Any] = {
        "filter_string": "metrics.acc >= 0.5",
        "datasets": [{"dataset_name": "eval"}],
    }
    expected = [m.model_id for m in read.search_logged_models(experiments, **arguments)]
    assert [m.model_id for m in loaded.search_logged_models(experiments, **arguments)] == expected
