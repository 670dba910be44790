"""runql.connect on a tracking server: a real ``mlflow server``, and an Azure ML-like one.

Runs are generated (fixed seed), logged by MLflow into a SQLite database, which a real ``mlflow server``
then serves; the reference is runql's reference evaluator over the same runs read back whole. The
Azure ML-like server is MLflow's client in front of that server, refusing what Azure ML's documented
matrix refuses (with Azure's kind of message) and reading status names as Azure ML does.
"""

from __future__ import annotations

import base64
import json
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st
from support.commands import run_command
from support.mlflow_stores import log_with_mlflow
from support.services import free_port, mlflow_server

import runql
from runql.model.entities import LifecycleStage, Run
from runql.profiles.compiled import compile_quietly
from runql.stores.server import ServerStore
from runql.testing.conformance import examples
from runql.testing.strategies import DEFAULT_VOCABULARY, queries, runs

COUNT = int(os.environ.get("RUNQL_SERVER_EXAMPLES", "60"))
SEED = 20261130
NAMES = ("résumé one", "RÉSUMÉ two", "Résumé three", "resume four", "RESUME five")


@dataclass
class Served:
    url: str
    reference: runql.Workspace
    experiments: list[str]

    def runs_of(self, experiment_id: str) -> list[Run]:
        return [
            r
            for r in self.reference.runs
            if r.info.experiment_id == experiment_id and r.info.lifecycle_stage == LifecycleStage.ACTIVE
        ]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("server")
    url = f"sqlite:///{folder / 'mlflow.db'}"
    # What MLflow's SQL store answers otherwise than its in-memory search (docs/compatibility.md) is
    # left out: pushed clauses are answered by the server's SQL store.
    vocabulary = DEFAULT_VOCABULARY.store_safe()
    experiments = []
    for index, generated in enumerate(examples(runs(vocabulary, min_size=8, max_size=14), 2, SEED)):
        for run in generated:
            run.info.experiment_id = f"w{index}"
        described = [{"experiment_id": f"w{index}", "name": f"workspace {index}"}]
        experiments.append(log_with_mlflow(url, generated, described).experiments[f"w{index}"])
    # A third experiment, written for the traffic and history tests.
    explicit = [
        {
            "run_id": f"{i:032x}",
            "experiment_id": "e",
            "start_time": 1000 + i,
            "user_id": "someone",
            "status": "FINISHED",
            "end_time": 2000 + i,
            "params": {"model": "xgb" if i % 4 == 0 else "rf"},
            "tags": {"stage": "prod" if i % 3 == 0 else "dev"},
            "metrics": {
                "auc": [{"value": i / 40 + s / 1000, "step": s, "timestamp": 1000 + s} for s in range(5)]
            },
        }
        for i in range(40)
    ]
    experiments.append(
        log_with_mlflow(url, explicit, [{"experiment_id": "e", "name": "explicit"}]).experiments["e"]
    )
    # A fourth, of names whose case only Unicode folds alike.
    named = [
        {
            "run_id": f"{100 + i:032x}",
            "experiment_id": "n",
            "run_name": name,
            "start_time": 3000 + i,
            "user_id": "someone",
        }
        for i, name in enumerate(NAMES)
    ]
    experiments.append(
        log_with_mlflow(url, named, [{"experiment_id": "n", "name": "names"}]).experiments["n"]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = runql.from_mlflow_db(url, histories=True)
    with mlflow_server(url, folder) as server_url:
        yield Served(server_url, reference, experiments)


def _ids(runs: list[Run]) -> list[str]:
    return [r.info.run_id for r in runs]


def _all_pages(store: ServerStore, experiment_id: str, query: runql.Query, page: int) -> list[str]:
    found: list[str] = []
    token = None
    while True:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            runs, token = store.search_runs_paged(
                [experiment_id], query.filter_string, order_by=list(query.order_by_strings),
                max_results=page, page_token=token, profile="extended",
            )  # fmt: skip
        found.extend(_ids(runs))
        if token is None:
            return found


def test_extended_queries_equal_the_reference(served: Served) -> None:
    store = runql.connect(served.url, profile="extended")
    assert isinstance(store, ServerStore)
    for index, experiment_id in enumerate(served.experiments[:2]):
        rows = served.runs_of(experiment_id)
        strategy = st.tuples(
            queries("extended", "runs", DEFAULT_VOCABULARY.store_safe(), rows), st.sampled_from([3, 1000])
        )
        for query, page in examples(strategy, COUNT // 2, SEED + index):
            expected = compile_quietly(query.filter_string, list(query.order_by_strings), profile="extended")
            assert _all_pages(store, experiment_id, query, page) == _ids(expected.search(rows)[0]), query


def test_a_pushed_and_fetches_only_what_it_selects(served: Served) -> None:
    experiment_id = served.experiments[2]
    store = runql.connect(served.url, profile="extended")
    assert isinstance(store, ServerStore)
    text = "params.model = 'xgb' AND (metrics.auc > 0.5 OR tags.stage = 'prod')"
    found = store.search_runs([experiment_id], text, order_by=["metrics.auc DESC"], output_format="list")
    expected = compile_quietly(text, ["metrics.auc DESC"], profile="extended").search(
        served.runs_of(experiment_id)
    )[0]
    assert _ids(found) == _ids(expected) and found
    assert store.fetched == 10  # the xgb runs, of 40 in the experiment


def test_the_server_pages_when_it_can_answer_alone(served: Served) -> None:
    experiment_id = served.experiments[2]
    store = runql.connect(served.url)
    assert isinstance(store, ServerStore)
    first, token = store.search_runs_paged([experiment_id], "params.model = 'rf'", max_results=5)
    assert len(first) == 5 and token is not None and store.fetched == 5
    second, _ = store.search_runs_paged(
        [experiment_id], "params.model = 'rf'", max_results=5, page_token=token
    )
    expected = compile_quietly("params.model = 'rf'").search(served.runs_of(experiment_id), 10)[0]
    assert _ids(first + second) == _ids(expected)


def test_sorting_stops_reading_once_the_page_is_full(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    experiment_id = served.experiments[2]
    text = "tags.stage = 'prod' OR params.model = 'xgb'"  # evaluated here: 20 of the 40 runs
    store = runql.connect(served.url, profile="extended")
    assert isinstance(store, ServerStore)
    runs, token = store.search_runs_paged([experiment_id], text, max_results=3)
    # Sorted by the server, runql asks for what the page needs and stops once it is complete.
    assert len(runs) == 3 and token is not None and store.fetched < 40
    # However small the server's pages, a page is read only as far as it needs.
    paged = ServerStore(served.url, profile="extended")
    monkeypatch.setattr("runql.stores.server.SERVER_PAGE", 4)
    runs, token = paged.search_runs_paged([experiment_id], text, max_results=3)
    assert len(runs) == 3 and token is not None and paged.fetched < 40


def _traffic(store: ServerStore, experiment_id: str, text: str, size: int) -> tuple[list[str], int]:
    """The ids of every page of a paged search, and the runs the server sent for them."""
    query = runql.parse(text)
    return _all_pages(store, experiment_id, query, size), store.fetched


def test_each_page_goes_on_where_the_last_one_stopped(served: Served) -> None:
    experiment_id = served.experiments[2]
    rows = served.runs_of(experiment_id)
    text = "tags.stage = 'prod' OR params.model = 'xgb'"
    store = ServerStore(served.url, profile="extended")
    found, fetched = _traffic(store, experiment_id, text, 3)
    assert found == _ids(compile_quietly(text, profile="extended").search(rows)[0]) and len(found) == 20
    # Seven pages of a filter runql evaluates: each page goes on from where the last stopped, so the 40
    # runs are read once, and the part of a server page before that point once more (it was 7 x 40).
    assert fetched < 2 * 40
    # NOT tags.stage = 'dev' is sent as tags.stage != 'dev': the server pages it, 14 runs for 14.
    store = ServerStore(served.url, profile="extended")
    found, fetched = _traffic(store, experiment_id, "NOT tags.stage = 'dev'", 7)
    assert len(found) == 14 and fetched == 14


def test_a_page_token_of_another_search_or_made_by_hand_is_refused(served: Served) -> None:
    experiment_id = served.experiments[2]
    store = ServerStore(served.url, profile="extended")
    text = "tags.stage = 'prod' OR params.model = 'xgb'"
    _, token = store.search_runs_paged([experiment_id], text, max_results=3)
    assert token is not None
    body = json.loads(base64.b64decode(token))
    forged = [
        "nope",
        base64.b64encode(json.dumps({**body, "skip": 10**6}).encode()).decode(),
        base64.b64encode(json.dumps({**body, "server": {"a": 1}}).encode()).decode(),
        base64.b64encode(json.dumps({"offset": 3}).encode()).decode(),
        base64.b64encode(b"[" * 100_000).decode(),
    ]
    for bad in forged:
        with pytest.raises(runql.ArgumentError) as caught:
            store.search_runs_paged([experiment_id], text, max_results=3, page_token=bad)
        assert caught.value.code == "bad-page-token"
    with pytest.raises(runql.ArgumentError, match="another search"):
        store.search_runs_paged(
            [experiment_id], "tags.stage = 'prod' OR params.model = 'rf'", page_token=token
        )


def test_ilike_the_server_folds_otherwise_is_evaluated_here(served: Served) -> None:
    experiment_id = served.experiments[3]
    store = ServerStore(served.url)
    for pattern, names in [("RÉSUMÉ%", NAMES[:3]), ("%sum%", NAMES[:5]), ("RESUME%", NAMES[3:])]:
        found = store.search_runs(
            [experiment_id], f"attributes.run_name ILIKE '{pattern}'", output_format="list"
        )
        assert sorted(r.info.run_name for r in found) == sorted(names), pattern
    # A pattern both foldings read alike is still sent to the server.
    store = ServerStore(served.url)
    found = store.search_runs([experiment_id], "attributes.run_name ILIKE '%O%'", output_format="list")
    assert len(found) == 3 and store.fetched == 3


def test_histories_come_from_the_server(served: Served) -> None:
    experiment_id = served.experiments[2]
    store = runql.connect(served.url)
    run = store.search_runs([experiment_id], "", max_results=1, output_format="list")[0]
    assert len(run.data.history("auc")) == 5
    assert [p.step for p in store.get_metric_history(run.info.run_id, "auc")] == list(range(5))
    assert store.get_run(run.info.run_id).info.run_id == run.info.run_id
    points = store.get_metric_history(run.info.run_id, "auc")
    assert store.histories([run.info.run_id]) == {run.info.run_id: {"auc": points}}
    assert store.histories([run.info.run_id], ["auc", "never-logged"]) == {run.info.run_id: {"auc": points}}
    assert store.histories([run.info.run_id], ["never-logged"]) == {}


def test_a_workspace_read_from_a_server_reads_the_histories_it_is_asked_for(
    served: Served, tmp_path: Path
) -> None:
    experiment_id = served.experiments[2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        workspace = runql.from_mlflow(served.url, experiment_ids=[experiment_id])
    run_id = served.runs_of(experiment_id)[0].info.run_id
    assert len(workspace.get_metric_history(run_id, "auc")) == 5
    found = workspace.search_runs([experiment_id], "count(metrics.auc) = 5", profile="extended")
    assert len(found) == 40
    # The first point of run 0 is 0.0; its latest value is 0.004.
    assert (
        workspace.search_runs([experiment_id], "min(metrics.auc) < 0.001", profile="extended").shape[0] == 1
    )
    figure = runql.plot_metric_history(workspace, [run_id], "auc")
    assert [len(line.get_xdata()) for line in figure.axes[0].get_lines()] == [5]
    # Saved, the workspace holds every point: it no longer needs the server.
    workspace.save(tmp_path / "saved.jsonl")
    assert len(runql.Workspace.load(tmp_path / "saved.jsonl").get_metric_history(run_id, "auc")) == 5


def test_experiments_through_the_server(served: Served) -> None:
    store = runql.connect(served.url, profile="extended")
    names = [e.name for e in store.search_experiments(filter_string="name LIKE 'work%' OR name = 'explicit'")]
    assert sorted(names) == ["explicit", "workspace 0", "workspace 1"]
    assert store.get_experiment_by_name("explicit") is not None
    assert store.get_experiment_by_name("nope") is None


def test_a_missing_run_and_a_refusal_quote_the_server(served: Served) -> None:
    store = runql.connect(served.url)
    with pytest.raises(runql.NotFoundError, match="not found"):
        store.get_run("0" * 31 + "f")
    with pytest.raises(runql.StoreError, match="Invalid experiment ID 'abc'") as caught:
        store.search_runs_paged(["abc"], "")
    assert caught.value.code == "server-refused" and "\n" not in str(caught.value)


def test_a_server_that_is_down_is_one_line_without_credentials() -> None:
    with pytest.raises(runql.StoreError) as caught:
        runql.connect(f"http://alice:s3cret-token@127.0.0.1:{free_port()}")
    message = str(caught.value)
    assert "s3cret" not in message and "\n" not in message
    assert "127.0.0.1" in message and caught.value.code == "unreachable-store"


class FailingClient:
    """A client whose every run search raises ``error``."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def search_runs(self, *args: Any, **kwargs: Any) -> Any:
        raise self.error


def test_only_the_servers_refusals_and_failures_become_store_errors() -> None:
    import requests
    from mlflow.exceptions import MlflowException

    refusal = MlflowException("Invalid experiment ID 'x'\nmore", error_code="INVALID_PARAMETER_VALUE")
    store = ServerStore("http://example", client=FailingClient(refusal))
    with pytest.raises(runql.StoreError, match=r"Invalid experiment ID 'x'$") as refused:
        store.search_runs_paged(["1"])
    assert refused.value.code == "server-refused"
    gone = ServerStore("http://example", client=FailingClient(requests.ConnectionError("Connection refused")))
    with pytest.raises(runql.StoreError, match="Connection refused") as lost:
        gone.search_runs_paged(["1"])
    assert lost.value.code == "unreachable-store"
    # Anything else is a fault of runql's own: it goes up as it is, never as the server's refusal.
    broken = ServerStore("http://example", client=FailingClient(KeyError("a fault")))
    with pytest.raises(KeyError):
        broken.search_runs_paged(["1"])


# -- an Azure ML-like server ---------------------------------------------------------------------


class AzureLikeClient:
    """MLflow's client for the served runs, answering run searches as Azure ML's matrix says: it refuses
    what the azureml profile refuses (and what some Azure ML paths are reported to refuse), and
    answers the rest with Azure ML's meaning (status names, quoted numbers, ``attributes.duration``),
    over the runs the real server holds. Keeps what it was sent."""

    def __init__(self, url: str) -> None:
        from mlflow import MlflowClient

        self.client = MlflowClient(tracking_uri=url)
        self.sent: list[tuple[str, list[str]]] = []

    def search_runs(
        self,
        experiment_ids: list[str],
        filter_string: str = "",
        run_view_type: int = 1,
        max_results: int = 1000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> Any:
        from mlflow.exceptions import MlflowException
        from mlflow.store.entities.paged_list import PagedList

        order = list(order_by or [])
        self.sent.append((filter_string, order))
        problems = runql.check(filter_string, "azureml", order_by=order)
        refused = [
            d for d in problems if d.severity is runql.Severity.ERROR or d.code == "observed-unsupported"
        ]
        if refused:
            raise MlflowException(f"Invalid query: {refused[0].message}", error_code="BAD_REQUEST")
        held = self.client.search_runs(experiment_ids, "", run_view_type=run_view_type, max_results=50000)
        compiled = compile_quietly(filter_string, order, profile="azureml")
        page, token = compiled.search(held, max_results, page_token)
        return PagedList(page, token)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def test_azureml_is_never_sent_what_it_refuses(served: Served) -> None:
    client = AzureLikeClient(served.url)
    store = ServerStore("azureml://example", client=client, profile="extended")
    assert store.target == "azureml"
    for index, experiment_id in enumerate(served.experiments[:2]):
        rows = served.runs_of(experiment_id)
        strategy = st.tuples(
            queries("extended", "runs", DEFAULT_VOCABULARY.store_safe(), rows), st.sampled_from([3, 1000])
        )
        for query, page in examples(strategy, COUNT // 2, SEED + 10 + index):
            expected = compile_quietly(query.filter_string, list(query.order_by_strings), profile="extended")
            assert _all_pages(store, experiment_id, query, page) == _ids(expected.search(rows)[0]), query
    assert client.sent  # and none was refused: a refusal raises


def test_the_done_example_on_azureml(served: Served) -> None:
    client = AzureLikeClient(served.url)
    store = ServerStore("azureml://example", client=client, profile="extended")
    experiment_id = served.experiments[2]
    text = (
        "params.model = 'xgb' AND (metrics.auc > 0.5 OR tags.stage = 'prod') "
        "AND attributes.status = 'FINISHED'"
    )
    found = store.search_runs([experiment_id], text, order_by=["metrics.auc DESC"], output_format="list")
    expected = compile_quietly(text, ["metrics.auc DESC"], profile="extended").search(
        served.runs_of(experiment_id)
    )[0]
    assert _ids(found) == _ids(expected)
    assert client.sent == [("params.model = 'xgb' AND attributes.status = 'Finished'", [])]


# -- the command -----------------------------------------------------------------------------------


def test_the_done_example_through_the_command(served: Served) -> None:
    experiment_id = served.experiments[2]
    text = "params.model = 'xgb' AND (metrics.auc > 0.5 OR tags.stage = 'prod')"
    done = run_command(
        "runs", "--source", served.url, "-e", "explicit", "--profile", "extended",
        "--filter", text, "--order-by", "metrics.auc DESC", "--format", "json", "-c", "run_id",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    expected = compile_quietly(text, ["metrics.auc DESC"], profile="extended").search(
        served.runs_of(experiment_id)
    )[0]
    assert [row["run_id"] for row in json.loads(done.stdout)] == _ids(expected)
    plan_text = run_command("plan", text, "-o", "metrics.auc DESC").stdout
    assert "pushed filter: params.model = 'xgb'" in plan_text
    assert "residual filter: metrics.auc > 0.5 OR tags.stage = 'prod'" in plan_text


def test_a_loaded_server_answers_history_functions_through_the_command(served: Served) -> None:
    done = run_command(
        "runs", "--source", served.url, "--load", "-e", "explicit", "--profile", "extended",
        "--filter", "count(metrics.auc) = 5", "--format", "json", "-c", "run_id",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)) == 40


def test_the_plan_of_an_experiments_search_says_it_is_answered_here() -> None:
    done = run_command("plan", "name LIKE 'a%'", "--entity", "experiments")
    assert done.returncode == 0, done.stderr
    assert "pushed filter: (none: every experiment)" in done.stdout
    assert "residual filter: attributes.name LIKE 'a%'" in done.stdout


def test_history_through_the_command_shows_every_point(served: Served) -> None:
    run = served.runs_of(served.experiments[2])[0]
    done = run_command("history", run.info.run_id[:10], "auc", "--source", served.url, "--format", "csv")
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.strip().splitlines()) == 1 + 5  # the header and the five points


def test_a_server_that_is_down_through_the_command_is_one_line() -> None:
    done = run_command("runs", "--source", f"http://alice:s3cret@127.0.0.1:{free_port()}")
    assert done.returncode == 1
    assert "s3cret" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "127.0.0.1" in done.stderr
