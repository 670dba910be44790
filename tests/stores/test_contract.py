"""One contract, every store: the Workspace, the SQL store on SQLite and on PostgreSQL, and the server
store against a real ``mlflow server`` give the same answers to MLflow's read calls.

The runs are written once per database by MLflow itself (:mod:`support.mlflow_stores`); the Workspace
loads the SQLite database whole, the SQL stores search the databases in place and the server serves
the SQLite one. MLflow gives each database its own run ids, so answers are compared by the records'
ids; the expected answers are runql's reference evaluator over the records.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from support.mlflow_stores import log_with_mlflow
from support.services import mlflow_server

import runql
from runql import QueryWarning, ViewType, Workspace
from runql.model.entities import LifecycleStage, Run
from runql.model.records import run_from_record
from runql.stores.base import RunStore
from runql.stores.server import ServerStore
from runql.stores.sql import SqlStore

KINDS = ("workspace", "sqlite", "postgresql", "server")
T0 = 1_700_000_000_000

EXPERIMENTS: list[dict[str, Any]] = [
    {"experiment_id": "0"},  # MLflow's Default
    {"experiment_id": "a", "name": "alpha", "tags": {"owner": "ann"}},
    {"experiment_id": "b", "name": "beta"},
    {"experiment_id": "c", "name": "gamma", "lifecycle_stage": LifecycleStage.DELETED},
]
NAMES = {"0": "Default", "a": "alpha", "b": "beta", "c": "gamma"}


def _records() -> list[dict[str, Any]]:
    """Runs in every experiment, active and deleted. Start times and metric values are all distinct, so
    every order is total whatever ids a store gave the runs."""
    layout = [("a", 10), ("b", 3), ("c", 2), ("0", 2)]
    records = []
    index = 0
    for experiment, count in layout:
        for i in range(count):
            accuracy = round(0.3 + 0.01 * index, 4)
            record: dict[str, Any] = {
                "run_id": f"{experiment}{i}",
                "run_name": f"{experiment}{i}",
                "experiment_id": experiment,
                "user_id": "ann",
                "status": "FAILED" if (experiment, i) == ("a", 4) else "FINISHED",
                "start_time": T0 + 1000 * index,
                "end_time": T0 + 1000 * index + 500,
                "params": {"model": "xgb" if i % 3 == 0 else "rf", "lr": f"0.{i}"},
                "tags": {"team": "x" if i % 2 else "y"},
                "metrics": {"accuracy": accuracy},
            }
            if i % 2 == 0:
                record["metrics"]["loss"] = round(1 - accuracy, 4)
            if (experiment, i) == ("a", 7):
                del record["params"]["model"]
            if (experiment, i) == ("a", 9):
                record["params"]["rare"] = "yes"
            if (experiment, i) == ("a", 0):
                record["metrics"]["accuracy"] = [
                    {"value": 0.1 * (step + 1), "step": step, "timestamp": T0 + step} for step in range(3)
                ]
            if (experiment, i) in (("a", 5), ("a", 6)) or experiment == "c":
                record["lifecycle_stage"] = LifecycleStage.DELETED
            records.append(record)
            index += 1
    return records


RECORDS = _records()
RECORD_RUNS = [run_from_record(record) for record in RECORDS]


def expected(
    experiments: Sequence[str],
    filter_string: str = "",
    order_by: list[str] | None = None,
    view: int | str | ViewType = ViewType.ACTIVE_ONLY,
    profile: str = "mlflow",
) -> list[str]:
    """The records' ids the reference evaluator selects among the runs of ``experiments`` (records' ids)."""
    stages = ViewType.coerce(view).stages
    rows = [
        r for r in RECORD_RUNS if r.info.experiment_id in experiments and r.info.lifecycle_stage in stages
    ]
    return [r.info.run_id for r in runql.compile(filter_string, order_by, profile=profile).search(rows)[0]]


@dataclass(frozen=True)
class Stored:
    """A database MLflow wrote the records into, and the ids it gave them (records' ids to its own)."""

    url: str
    runs: dict[str, str]
    experiments: dict[str, str]


def _write(url: str) -> Stored:
    written = log_with_mlflow(url, RECORDS, EXPERIMENTS)
    return Stored(url, written.runs, written.experiments)


@pytest.fixture(scope="module")
def sqlite_stored(new_sqlite_database: Any) -> Stored:
    return _write(new_sqlite_database(mlflow_schema=True))


@pytest.fixture(scope="module")
def postgres_stored(new_postgres_database: Any) -> Stored:
    return _write(new_postgres_database(mlflow_schema=True))


@pytest.fixture(scope="module")
def server_url(sqlite_stored: Stored, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with mlflow_server(sqlite_stored.url, tmp_path_factory.mktemp("contract-server")) as url:
        yield url


@dataclass
class Subject:
    """A store under test: what opens it, the store opened, and the ids it knows the records by."""

    kind: str
    url: str
    store: RunStore[Any, Any]
    stored: Stored

    def open(self) -> RunStore[Any, Any]:
        """The store anew, chosen by what ``url`` names."""
        return Workspace.load(self.url) if self.kind == "workspace" else runql.connect(self.url)

    def exp(self, record_id: str) -> str:
        return self.stored.experiments[record_id]

    def run(self, record_id: str) -> str:
        return self.stored.runs[record_id]

    def ids(self, runs: Sequence[Run]) -> list[str]:
        """The records' ids of ``runs``."""
        records = {run_id: record_id for record_id, run_id in self.stored.runs.items()}
        return [records[run.info.run_id] for run in runs]


@pytest.fixture(scope="module", params=KINDS)
def subject(request: pytest.FixtureRequest) -> Iterator[Subject]:
    kind = request.param
    stored: Stored = request.getfixturevalue("postgres_stored" if kind == "postgresql" else "sqlite_stored")
    url = request.getfixturevalue("server_url") if kind == "server" else stored.url
    found = Subject(kind, url, Workspace.load(url) if kind == "workspace" else runql.connect(url), stored)
    yield found
    found.store.close()


def _listed(subject: Subject, *args: Any, **kwargs: Any) -> list[str]:
    return subject.ids(subject.store.search_runs(*args, output_format="list", **kwargs))


def _chain(subject: Subject, experiment_ids: list[str], size: int, **kwargs: Any) -> list[list[str]]:
    """Every page of a paged search, following the tokens until there is none."""
    pages = []
    token = None
    while True:
        runs, token = subject.store.search_runs_paged(
            experiment_ids, max_results=size, page_token=token, **kwargs
        )
        pages.append(subject.ids(runs))
        if token is None:
            return pages
        assert len(pages) <= 20, "the tokens never end"


# -- choosing the experiments --------------------------------------------------------------------------


def test_experiment_ids_or_names_choose_the_experiments(
    subject: Subject, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = subject.exp("a"), subject.exp("b")
    assert _listed(subject, [a, b]) == expected(["a", "b"])
    assert _listed(subject, b) == expected(["b"])  # one id alone
    assert _listed(subject, experiment_names=["alpha", "beta"]) == expected(["a", "b"])
    with caplog.at_level(logging.WARNING, logger="runql"):
        assert _listed(subject, experiment_names=["alpha", "no such"]) == expected(["a"])
    assert "Cannot retrieve experiment by name no such" in caplog.text
    with pytest.raises(runql.ArgumentError) as caught:
        subject.store.search_runs([a], experiment_names=["alpha"])
    assert caught.value.code == "experiment-ids-and-names"
    assert _listed(subject) == expected(["0"])  # neither: the active experiment, MLflow's Default


def test_search_all_experiments_covers_the_active_experiments(subject: Subject) -> None:
    assert _listed(subject, search_all_experiments=True) == expected(["0", "a", "b"])
    assert _listed(subject, search_all_experiments=True, run_view_type=ViewType.ALL) == expected(
        ["0", "a", "b"], view=ViewType.ALL
    )


@pytest.mark.parametrize("view", [ViewType.ACTIVE_ONLY, "DELETED_ONLY", "all", 3])
def test_view_types(subject: Subject, view: int | str | ViewType) -> None:
    searched = [subject.exp("a"), subject.exp("c")]
    assert _listed(subject, searched, run_view_type=view) == expected(["a", "c"], view=view)
    runs, token = subject.store.search_runs_paged(searched, run_view_type=view)
    assert subject.ids(runs) == expected(["a", "c"], view=view) and token is None


# -- results and pages ------------------------------------------------------------------------------


def test_max_results_zero_none_and_a_cap(subject: Subject) -> None:
    a = [subject.exp("a")]
    assert _listed(subject, a, max_results=0) == []
    assert len(subject.store.search_runs(a, max_results=0)) == 0
    assert _listed(subject, a, max_results=None) == expected(["a"])
    assert (
        _listed(subject, a, "", max_results=3, order_by=["metrics.accuracy"])
        == expected(["a"], "", ["metrics.accuracy"])[:3]
    )
    runs, token = subject.store.search_runs_paged(a, max_results=None)
    assert subject.ids(runs) == expected(["a"]) and token is None


def test_the_dataframe_is_mlflows(subject: Subject) -> None:
    order = ["metrics.accuracy DESC"]
    frame = subject.store.search_runs([subject.exp("a")], "metrics.accuracy > 0.33", order_by=order)
    records = {run_id: record_id for record_id, run_id in subject.stored.runs.items()}
    assert [records[i] for i in frame["run_id"]] == expected(["a"], "metrics.accuracy > 0.33", order)
    assert list(frame.columns[:6]) == [
        "run_id",
        "experiment_id",
        "status",
        "artifact_uri",
        "start_time",
        "end_time",
    ]
    assert {"metrics.accuracy", "metrics.loss", "params.model", "params.rare", "tags.team"} <= set(
        frame.columns
    )
    assert set(frame["experiment_id"]) == {subject.exp("a")}
    row = frame.iloc[list(frame["run_id"]).index(subject.run("a9"))]
    assert (row["params.rare"], row["tags.team"], row["status"]) == ("yes", "x", "FINISHED")


QUERIES = [
    # A server answers these alone: the pages and tokens are its own.
    ("", None, "mlflow"),
    ("params.model = 'rf'", ["metrics.accuracy DESC"], "mlflow"),
    # A server is sent part of this one (or none), and runql pages what it selects.
    ("metrics.accuracy > 0.34 OR params.model = 'xgb'", ["params.model", "metrics.loss DESC"], "extended"),
]


@pytest.mark.parametrize(("filter_string", "order_by", "profile"), QUERIES)
@pytest.mark.parametrize("size", [1, 3, 50])
def test_a_chain_of_pages_is_one_search(
    subject: Subject, filter_string: str, order_by: list[str] | None, profile: str, size: int
) -> None:
    searched = [subject.exp("a"), subject.exp("b")]
    query: dict[str, Any] = {"filter_string": filter_string, "order_by": order_by, "profile": profile}
    answer = expected(["a", "b"], filter_string, order_by, profile=profile)
    pages = _chain(subject, searched, size, **query)
    assert [run for page in pages for run in page] == answer
    assert all(len(page) == size for page in pages[:-1]) and len(pages[-1]) <= size
    assert _listed(subject, searched, max_results=None, **query) == answer
    every = _chain(subject, searched, size, run_view_type="ALL", **query)
    assert [run for page in every for run in page] == expected(
        ["a", "b"], filter_string, order_by, "ALL", profile
    )


# -- experiments ---------------------------------------------------------------------------------------


def test_search_experiments(subject: Subject) -> None:
    def names(found: list[runql.Experiment]) -> list[str]:
        return [e.name for e in found]

    store = subject.store
    assert sorted(names(store.search_experiments())) == ["Default", "alpha", "beta"]
    assert names(store.search_experiments(order_by=["name"])) == ["Default", "alpha", "beta"]
    assert names(store.search_experiments(view_type=ViewType.ALL, order_by=["name DESC"])) == [
        "gamma",
        "beta",
        "alpha",
        "Default",
    ]
    assert names(store.search_experiments(view_type="DELETED_ONLY")) == ["gamma"]
    assert names(store.search_experiments(filter_string="name LIKE 'a%'")) == ["alpha"]
    assert names(store.search_experiments(filter_string="tags.owner = 'ann'")) == ["alpha"]
    assert names(store.search_experiments(max_results=1, order_by=["name"])) == ["Default"]
    assert names(store.search_experiments(max_results=None, order_by=["name"])) == [
        "Default",
        "alpha",
        "beta",
    ]
    assert {e.experiment_id for e in store.search_experiments(view_type=ViewType.ALL)} == {
        subject.exp(record) for record in NAMES
    }


def test_search_experiments_paged(subject: Subject) -> None:
    pages = []
    token = None
    while True:
        found, token = subject.store.search_experiments_paged(
            view_type=ViewType.ALL, max_results=1, order_by=["name"], page_token=token
        )
        pages.append([e.name for e in found])
        if token is None:
            break
    assert pages == [["Default"], ["alpha"], ["beta"], ["gamma"]]
    found, token = subject.store.search_experiments_paged(filter_string="name = 'beta'")
    assert [e.name for e in found] == ["beta"] and token is None
    with pytest.raises(runql.ArgumentError):
        subject.store.search_experiments_paged(max_results=0)


# -- keys no run has -----------------------------------------------------------------------------------

# Whether the store can tell which keys its runs have: a tracking server cannot without sending every run.
TELLS_KEYS = {"workspace": True, "sqlite": True, "postgresql": True, "server": False}


def _unknown_keys(caught: list[warnings.WarningMessage]) -> list[warnings.WarningMessage]:
    return [
        w
        for w in caught
        if isinstance(w.message, QueryWarning) and w.message.diagnostic.code == "unknown-key"
    ]


def test_a_key_no_searched_run_has_is_warned_of_where_the_store_can_tell(subject: Subject) -> None:
    a = [subject.exp("a")]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = subject.store.search_runs(a, "metrics.acc > 0.5", output_format="list")
        paged, _ = subject.store.search_runs_paged(a, "", order_by=["params.modle"])
    assert found == [] and subject.ids(paged) == expected(["a"], "", ["params.modle"])
    unknown = _unknown_keys(caught)
    if TELLS_KEYS[subject.kind]:
        assert [str(w.message).splitlines()[0] for w in unknown] == [
            "warning: filter_string, line 1, column 1: no run in the searched experiments has a metric "
            "'acc'; did you mean 'accuracy'? [unknown-key]",
            "warning: order_by[0], line 1, column 1: no run in the searched experiments has a param "
            "'modle'; did you mean 'model'? [unknown-key]",
        ]
        assert all(w.filename == __file__ for w in unknown)  # the caller's line
        keys = subject.store.key_sets(a, [LifecycleStage.ACTIVE])
        assert keys is not None and keys.metrics == {"accuracy", "loss"}
        assert keys.params == {"model", "lr", "rare"}
    else:
        assert unknown == []
        assert subject.store.key_sets(a, [LifecycleStage.ACTIVE]) is None


def test_a_key_some_searched_run_has_is_not_warned_of(subject: Subject) -> None:
    # Only one run has the param, and neither the page nor the runs selected are it: a run searched is.
    a = [subject.exp("a")]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runs, token = subject.store.search_runs_paged(
            a, "params.model = 'rf'", order_by=["params.rare"], max_results=1
        )
        assert subject.store.search_runs(a, "params.rare = 'no'", output_format="list") == []
    assert subject.ids(runs) == expected(["a"], "params.model = 'rf'", ["params.rare"])[:1] and token
    assert _unknown_keys(caught) == []


# -- errors --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, -1, 50001, "10", 2.5, True])
def test_a_bad_page_size_is_refused(subject: Subject, bad: Any) -> None:
    with pytest.raises(runql.ArgumentError) as caught:
        subject.store.search_runs_paged([subject.exp("a")], max_results=bad)
    assert caught.value.code == "bad-max-results"


@pytest.mark.parametrize("bad", ["10", 2.5, True])
def test_a_bad_max_results_is_refused(subject: Subject, bad: Any) -> None:
    with pytest.raises(runql.ArgumentError) as caught:
        subject.store.search_runs([subject.exp("a")], max_results=bad)
    assert caught.value.code == "bad-max-results"


def test_a_bad_page_token_is_refused(subject: Subject) -> None:
    a = [subject.exp("a")]
    # runql pages this query everywhere: the token is runql's to read.
    with pytest.raises(runql.ArgumentError) as caught:
        subject.store.search_runs_paged(
            a, "params.lr = 'x' OR params.lr = 'y'", page_token="nope", profile="extended"
        )
    assert caught.value.code == "bad-page-token"
    # A server that pages this one itself reads the token, and refuses it.
    with pytest.raises(runql.RunqlError) as refused:
        subject.store.search_runs_paged(a, page_token="nope")
    assert isinstance(refused.value, ValueError)
    if subject.kind != "server":
        assert isinstance(refused.value, runql.ArgumentError) and refused.value.code == "bad-page-token"


def test_bad_queries_and_arguments_are_runql_errors(subject: Subject) -> None:
    a = [subject.exp("a")]
    with pytest.raises(runql.QuerySyntaxError):
        subject.store.search_runs(a, "metrics.accuracy >> 1")
    with pytest.raises(runql.QuerySyntaxError):
        subject.store.search_runs_paged(a, "metrics.accuracy >> 1")
    with pytest.raises(runql.UnsupportedQueryError):  # OR is not MLflow's
        subject.store.search_runs(a, "metrics.accuracy > 1 OR metrics.loss > 1")
    with pytest.raises(runql.QuerySyntaxError):
        subject.store.search_experiments(filter_string="name = ")
    with pytest.raises(runql.ArgumentError) as caught:
        subject.store.search_runs(a, output_format="arrow")
    assert caught.value.code == "bad-output-format"


# -- lookups -------------------------------------------------------------------------------------------


def test_get_run_and_its_metric_history(subject: Subject) -> None:
    store = subject.store
    run = store.get_run(subject.run("a0"))
    assert (run.info.run_id, run.info.experiment_id, run.info.run_name) == (
        subject.run("a0"),
        subject.exp("a"),
        "a0",
    )
    assert run.data.params == {"model": "xgb", "lr": "0.0"}
    assert run.data.metrics == {"accuracy": pytest.approx(0.3), "loss": pytest.approx(0.7)}
    assert run.data.tags["team"] == "y"
    assert store.get_run(subject.run("a5")).info.lifecycle_stage == LifecycleStage.DELETED
    history = store.get_metric_history(subject.run("a0"), "accuracy")
    assert [(p.step, p.value, p.timestamp) for p in history] == [
        (step, pytest.approx(0.1 * (step + 1)), T0 + step) for step in range(3)
    ]
    assert [p.value for p in store.get_metric_history(subject.run("a2"), "loss")] == [pytest.approx(0.68)]
    assert store.get_metric_history(subject.run("a0"), "never logged") == []
    with pytest.raises(runql.NotFoundError):
        store.get_run("f" * 32)
    with pytest.raises(runql.NotFoundError):
        store.get_metric_history("f" * 32, "accuracy")


def test_get_experiment_and_by_name(subject: Subject) -> None:
    store = subject.store
    alpha = store.get_experiment(subject.exp("a"))
    assert (alpha.name, alpha.lifecycle_stage, alpha.tags) == (
        "alpha",
        LifecycleStage.ACTIVE,
        {"owner": "ann"},
    )
    assert store.get_experiment(int(subject.exp("c"))).lifecycle_stage == LifecycleStage.DELETED
    by_name = store.get_experiment_by_name("gamma")
    assert by_name is not None and by_name.experiment_id == subject.exp("c")
    assert store.get_experiment_by_name("no such") is None
    with pytest.raises(runql.NotFoundError):
        store.get_experiment("987654")
    assert {e.name for e in store.experiments} == set(NAMES.values())


def test_run_ids_starting(subject: Subject) -> None:
    store = subject.store
    every = list(subject.stored.runs.values())
    for record_id in ("a1", "a6", "c0"):  # active, deleted, in a deleted experiment
        run_id = subject.run(record_id)
        assert store.run_ids_starting(run_id[:10]) == [run_id]
    first = max("0123456789abcdef", key=lambda c: sum(i.startswith(c) for i in every))
    starting = {i for i in every if i.startswith(first)}
    assert set(store.run_ids_starting(first, limit=len(every))) == starting
    assert len(starting) > 1 and len(store.run_ids_starting(first, limit=1)) == 1
    assert store.run_ids_starting("") == []
    assert store.run_ids_starting("zz-not-an-id") == []


# -- opening and closing ---------------------------------------------------------------------------------

OPENED = {"workspace": Workspace, "sqlite": SqlStore, "postgresql": SqlStore, "server": ServerStore}


def test_every_store_is_a_context_manager(subject: Subject) -> None:
    with subject.open() as store:
        assert type(store) is OPENED[subject.kind] and isinstance(store, RunStore)
        assert _listed(
            Subject(subject.kind, subject.url, store, subject.stored), subject.exp("b")
        ) == expected(["b"])
