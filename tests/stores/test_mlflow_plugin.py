"""MLflow's own server with runql's tracking-store plugin: ``mlflow server --backend-store-uri runql+...``.

Real ``mlflow server`` processes on loopback, on SQLite and on PostgreSQL: a plain one (the oracle), a
plugin one in the default profile (``extended``) and a plugin one in the ``mlflow`` profile, all three over
one database MLflow itself wrote. The callers are MLflow's client, ``mlflow.search_runs`` and the REST
endpoints (``api/`` and the UI's ``ajax-api/``) called with urllib. Runs and queries are generated with a
fixed seed; the extended answers must be ``runql.connect``'s on the same database, the ``mlflow`` ones the
plain server's, ids and tokens, refusals included. A basic-auth server checks that a user allowed one
experiment never sees another's runs or experiments, whatever the filter.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st
from support.mlflow_stores import log_with_mlflow, tracking_uri
from support.services import mlflow_server

import runql
from runql.model.entities import LifecycleStage, Run
from runql.stores import mlflow_plugin
from runql.stores.sql import SqlStore
from runql.testing.conformance import examples
from runql.testing.strategies import DEFAULT_VOCABULARY, queries, runs

COUNT = int(os.environ.get("RUNQL_PLUGIN_EXAMPLES", "12"))
SEED = 20261206
BACKENDS = ("sqlite", "postgresql")
ISSUE_FILTER = "params.model = 'xgb' AND (metrics.auc > 0.9 OR tags.stage = 'prod')"
ISSUE_ORDER = ["max(metrics.auc) DESC"]
# Filters of the corpus MLflow's own server answers with HTTP 500 (docs/compatibility.md, server-errors).
SERVER_ERRORS = ["run_id IN (a)", "run_id IN (f'x')"]
CORPUS = Path(__file__).resolve().parents[1] / "conformance" / "filters.json"


# -- servers ------------------------------------------------------------------------------------------


@contextlib.contextmanager
def servers(*specs: tuple[str, dict[str, Any]], folder: Path) -> Iterator[list[str]]:
    """Start one ``mlflow server`` per ``(backend store URI, mlflow_server options)`` at once, and stop
    them all at once: each takes seconds, mostly importing MLflow."""
    managers = [
        mlflow_server(uri, folder, log_name=f"server-{index}.log", **options)
        for index, (uri, options) in enumerate(specs)
    ]
    started: list[Any] = []

    def start(manager: Any) -> str:
        url: str = manager.__enter__()
        started.append(manager)
        return url

    try:
        with ThreadPoolExecutor(len(managers)) as pool:
            urls = list(pool.map(start, managers))
        yield urls
    finally:
        with ThreadPoolExecutor(max(1, len(started))) as pool:
            list(pool.map(lambda manager: manager.__exit__(None, None, None), started))


def plugin_uri(database: str, **parameters: str) -> str:
    """The plugin's URI for a database URL: ``runql+`` before it, SQLAlchemy's default driver (a driver in
    the scheme would make a scheme no plugin registers), and the parameters after it."""
    scheme, rest = database.split("://", 1)
    query = "&".join(f"{key}={value}" for key, value in parameters.items())
    return f"runql+{scheme.split('+')[0]}://{rest}" + (f"?{query}" if query else "")


def call(
    base: str, path: str, body: dict[str, Any] | None = None, *, user: tuple[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    """POST ``body`` (GET when None) to ``base/path``: the HTTP status and the JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{base}/{path}", data=data, headers={"Content-Type": "application/json"}
    )
    if user is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(":".join(user).encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        text = error.read()
        try:
            return error.code, json.loads(text)
        except ValueError:
            return error.code, {"html": text.decode("utf-8", "replace")}


def search(
    base: str, experiment_id: str, text: str, order_by: Sequence[str], page: int, token: str = ""
) -> Any:
    body: dict[str, Any] = {"experiment_ids": [experiment_id], "filter": text, "order_by": list(order_by)}
    body["max_results"] = page
    if token:
        body["page_token"] = token
    return call(base, "api/2.0/mlflow/runs/search", body)


def answer(reply: tuple[int, dict[str, Any]]) -> tuple[int, list[str], str]:
    """A search's status, ids and next page token; for a refusal, its error code instead of ids."""
    status, body = reply
    if status != 200:
        return status, [body.get("error_code", "")], ""
    return status, [run["info"]["run_id"] for run in body.get("runs", [])], body.get("next_page_token", "")


# -- the sites: a database, the plain server and the two plugin servers over it -----------------------------


@dataclass
class Site:
    backend: str
    database: str
    plain: str  # the plain mlflow server
    extended: str  # the plugin, default profile
    mlflow: str  # the plugin, RUNQL_PROFILE=mlflow
    store: SqlStore  # runql.connect on the same database
    reference: runql.Workspace
    generated: str  # an experiment of generated runs, the whole vocabulary
    parting: str  # generated runs of the values alone on which MLflow's SQL store and in-memory search part
    issue: str  # the issue's runs: model, stage, an auc history
    edges: str  # runs where MLflow's SQL store and its in-memory search part (docs/compatibility.md)

    def runs_of(self, experiment_id: str) -> list[Run]:
        return [
            r
            for r in self.reference.runs
            if r.info.experiment_id == experiment_id and r.info.lifecycle_stage == LifecycleStage.ACTIVE
        ]


def issue_runs() -> list[dict[str, Any]]:
    return [
        {
            "run_id": f"{i:032x}",
            "experiment_id": "issue",
            "user_id": "someone",
            "start_time": 1000 + i,
            "status": "FINISHED",
            "end_time": 2000 + i,
            "params": {"model": "xgb" if i % 4 == 0 else "rf"},
            "tags": {"stage": "prod" if i % 3 == 0 else "dev"},
            "metrics": {
                "auc": [{"value": i / 20 - s / 100, "step": s, "timestamp": 1000 + s} for s in range(5)]
            },
        }
        for i in range(40)
    ]


# A newline inside a value, a letter whose case only Unicode folds, a backslash.
EDGE_RUNS = [
    {
        "run_id": f"{i:032x}",
        "experiment_id": "edges",
        "user_id": "someone",
        "start_time": 1000 - i,
        "run_name": f"edge {i}",
        "params": {"p": p, "b": b},
        "tags": {"t": t},
        "metrics": {"m": [{"value": float(i), "step": 0, "timestamp": 1}]},
    }
    for i, (p, b, t) in enumerate(
        [("line1\nline2", "back\\slash", "Ü"), ("line1", "x", "ü"), ("other", "y", "u")]
    )
]


@pytest.fixture(scope="module", params=BACKENDS)
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    backend = request.param
    make = request.getfixturevalue("new_sqlite_database" if backend == "sqlite" else "new_postgres_database")
    database = make(mlflow_schema=True)
    ids = {}
    drawn = (("generated", DEFAULT_VOCABULARY), ("parting", DEFAULT_VOCABULARY.where_stores_part()))
    for name, vocabulary in drawn:
        generated = examples(runs(vocabulary, min_size=12, max_size=16), 1, SEED + len(ids))[0]
        for run in generated:
            run.info.experiment_id = name
        ids[name] = log_with_mlflow(database, generated, [{"experiment_id": name, "name": name}]).experiments[
            name
        ]
    ids["issue"] = log_with_mlflow(
        database, issue_runs(), [{"experiment_id": "issue", "name": "issue"}]
    ).experiments["issue"]
    ids["edges"] = log_with_mlflow(
        database, EDGE_RUNS, [{"experiment_id": "edges", "name": "edges"}]
    ).experiments["edges"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = runql.from_mlflow_db(database)
    store = runql.connect(database, profile="extended")
    assert isinstance(store, SqlStore)
    folder = tmp_path_factory.mktemp(f"plugin-{backend}")
    # The mlflow profile set each way a server can be told it: the environment, and the URI.
    mlflow_profile: tuple[str, dict[str, Any]] = (
        (plugin_uri(database), {"environment": {"RUNQL_PROFILE": "mlflow"}})
        if backend == "sqlite"
        else (plugin_uri(database, runql_profile="mlflow"), {})
    )
    specs = [(database, {}), (plugin_uri(database), {}), mlflow_profile]
    with servers(*specs, folder=folder) as (plain, extended, mlflow):
        yield Site(backend, database, plain, extended, mlflow, store, reference, **ids)
    store.close()


def ids_of(found: Sequence[Any]) -> list[str]:
    return [run.info.run_id for run in found]


def quietly(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


# -- registration ---------------------------------------------------------------------------------------


def test_the_schemes_are_registered_in_a_fresh_process() -> None:
    script = """
import json, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import mlflow
    from mlflow.tracking._model_registry.utils import _get_store_registry
    from mlflow.tracking._tracking_service.utils import _tracking_store_registry
    registry = _get_store_registry()
    from mlflow.tracking._workspace.registry import _get_workspace_store_registry
    workspaces = _get_workspace_store_registry()
def named(registered):
    found = registered._registry.items()
    return {k: f"{v.__module__}.{v.__qualname__}" for k, v in found if k.startswith("runql+")}
print(json.dumps({
    "tracking": named(_tracking_store_registry),
    "registry": named(registry),
    "workspaces": named(workspaces),
    "warnings": [str(w.message) for w in caught if "runql" in str(w.message)],
}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    schemes = ["runql+mysql", "runql+postgresql", "runql+sqlite"]
    for group, builder in (
        ("tracking", "tracking_store"),
        ("registry", "registry_store"),
        ("workspaces", "workspace_store"),
    ):
        assert found[group] == {s: f"runql.stores.mlflow_plugin.{builder}" for s in schemes}, group
    assert found["warnings"] == []


def test_the_uri_names_the_database_and_the_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "runql+postgresql://u:p%40ss@host:5432/db?sslmode=require&runql_profile=mlflow&x=%2F"
    assert mlflow_plugin.database_url(url) == "postgresql://u:p%40ss@host:5432/db?sslmode=require&x=%2F"
    assert (
        mlflow_plugin.database_url("runql+sqlite:////tmp/m.db?runql_profile=mlflow") == "sqlite:////tmp/m.db"
    )
    assert mlflow_plugin.database_url("runql+sqlite:///m.db") == "sqlite:///m.db"
    monkeypatch.delenv("RUNQL_PROFILE", raising=False)
    assert mlflow_plugin.server_profile("runql+sqlite:///m.db") == "extended"
    assert mlflow_plugin.server_profile(url) == "mlflow"
    monkeypatch.setenv("RUNQL_PROFILE", "azureml")
    assert mlflow_plugin.server_profile("runql+sqlite:///m.db") == "azureml"
    assert mlflow_plugin.server_profile(url) == "mlflow"  # the URI is the more specific setting
    monkeypatch.setenv("RUNQL_PROFILE", "extendd")
    with pytest.raises(ValueError, match="RUNQL_PROFILE: unknown profile 'extendd'"):
        mlflow_plugin.server_profile("runql+sqlite:///m.db")
    with pytest.raises(ValueError, match="runql_profile parameter: unknown profile 'x'"):
        mlflow_plugin.server_profile("runql+sqlite:///m.db?runql_profile=x")


# -- searches through the servers --------------------------------------------------------------------


def test_extended_queries_page_as_runql_connect_does(site: Site) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=site.extended)
    for offset, experiment_id in enumerate((site.generated, site.parting)):
        rows = site.runs_of(experiment_id)
        strategy = st.tuples(
            queries("extended", "runs", DEFAULT_VOCABULARY, rows), st.sampled_from([3, 7, 1000])
        )
        for query, page in examples(strategy, COUNT, SEED + 10 + offset):
            text, order_by = query.filter_string, list(query.order_by_strings)
            expected = quietly(
                site.store.search_runs, [experiment_id], text, order_by=order_by, output_format="list"
            )
            found: list[str] = []
            token = None
            while True:
                result = client.search_runs(
                    [experiment_id], text, order_by=order_by, max_results=page, page_token=token
                )
                found += ids_of(result)
                token = result.token
                if not token:
                    break
            assert found == ids_of(expected), (text, order_by, page)


def test_the_mlflow_profile_answers_as_the_plain_server(site: Site) -> None:
    cases = []
    for offset, experiment_id in enumerate((site.generated, site.parting)):
        rows = site.runs_of(experiment_id)
        accepted = st.tuples(queries("mlflow", "runs", DEFAULT_VOCABULARY, rows), st.sampled_from([2, 1000]))
        near = st.tuples(
            queries("mlflow", "runs", DEFAULT_VOCABULARY, rows, valid=False), st.sampled_from([2, 1000])
        )
        seed = SEED + 20 + 2 * offset
        cases += [(experiment_id, *case) for case in examples(accepted, COUNT, seed)]
        cases += [(experiment_id, *case) for case in examples(near, 2 * COUNT, seed + 1)]
    refused = 0
    for experiment_id, query, page in cases:
        text, order_by = query.filter_string, list(query.order_by_strings)
        theirs = answer(search(site.plain, experiment_id, text, order_by, page))
        mine = answer(search(site.mlflow, experiment_id, text, order_by, page))
        assert mine == theirs, (text, order_by, page)
        refused += theirs[0] != 200
        if theirs[2]:  # the token continues on either server
            assert answer(search(site.mlflow, experiment_id, text, order_by, page, theirs[2])) == answer(
                search(site.plain, experiment_id, text, order_by, page, mine[2])
            )
    assert 0 < refused < len(cases)


def test_the_edges_answer_as_each_profile_says(site: Site) -> None:
    """Where MLflow's SQL store and its in-memory search part, the plugin in the mlflow profile answers as
    the plain server (the database's LIKE), and in the extended profile as runql's other engines (the
    in-memory meaning); where the plain server fails with HTTP 500, the plugin answers or refuses with 400
    (docs/compatibility.md)."""
    status, body = call(site.plain, "api/2.0/mlflow/runs/search", {"experiment_ids": [site.edges]})
    assert status == 200
    named = {run["info"]["run_name"]: run["info"]["run_id"] for run in body["runs"]}
    newline, plain_u, ascii_u = named["edge 0"], named["edge 1"], named["edge 2"]
    postgresql = site.backend == "postgresql"

    def each(text: str, order_by: Sequence[str] = ()) -> list[Any]:
        bases = (site.plain, site.mlflow, site.extended)
        return [answer(search(base, site.edges, text, order_by, 100)) for base in bases]

    # `_` and `%` cross a newline in the database's LIKE, not in MLflow's in-memory search.
    for text in ("params.p LIKE 'line1_line2'", "params.p LIKE '%line2'"):
        assert each(text) == [(200, [newline], "")] * 2 + [(200, [], "")], text
    # SQLite's lower() folds ASCII letters only, Python every letter; PostgreSQL's ILIKE folds as its
    # locale does, in every profile (postgres-ilike), and the test database's is C.
    unicode_fold = (200, [plain_u] if postgresql else [newline, plain_u], "")
    assert each("tags.t ILIKE 'ü'") == [(200, [plain_u], "")] * 2 + [unicode_fold]
    # PostgreSQL's LIKE reads a backslash as an escape; a pattern of runql's has none.
    escaped = (200, [], "") if postgresql else (200, [newline], "")
    assert each("params.b LIKE 'back\\slash'") == [escaped] * 2 + [(200, [newline], "")]
    # A lone backslash at the end of a pattern: PostgreSQL refuses it once a value's match reaches it.
    assert each("params.b LIKE 'slash\\'") == [(200, [], "")] * 3
    # There MLflow answers the database's error with BAD_REQUEST, the plugin with INVALID_PARAMETER_VALUE.
    plain, mine, extended = each("params.b LIKE 'back\\'")
    assert extended == (200, [], "")
    with runql.connect(site.database, profile="mlflow") as store:
        if postgresql:
            assert (plain, mine) == ((400, ["BAD_REQUEST"], ""), (400, ["INVALID_PARAMETER_VALUE"], ""))
            with pytest.raises(runql.EvaluationError, match="lone backslash") as refused:
                store.search_runs([site.edges], "params.b LIKE 'back\\'")
            assert refused.value.code == "bad-pattern"
        else:
            assert plain == mine == (200, [], "")
            assert store.search_runs([site.edges], "params.b LIKE 'back\\'", output_format="list") == []
    # server-errors: a repeated order_by key (the first wins, with a warning), NUL on PostgreSQL.
    plain, mine, _ = each("", ["metrics.m", "metrics.m DESC"])
    assert plain[0] == 500 and mine == (200, [newline, plain_u, ascii_u], "")
    plain, mine, _ = each("params.p = 'a\x00b'")
    assert mine == (200, [], "") and plain[0] == (500 if postgresql else 200)


# Parsing does not depend on the database (the generated refusals above run on both): once, on SQLite.
@pytest.mark.parametrize("site", ["sqlite"], indirect=True)
def test_the_corpus_is_refused_where_mlflow_refuses_it(site: Site) -> None:
    """Every filter of the syntax corpus: the plugin in the mlflow profile accepts what the plain server
    accepts, but where the corpus marks a documented difference (docs/compatibility.md, ## Syntax); it
    refuses with HTTP 400, never a server error, also where the plain server answers 500."""
    differing, failing = [], []
    for case in json.loads(CORPUS.read_text("utf-8"))["cases"]:
        request = {"experiment_ids": [site.generated], "filter": case["filter"]}
        plain = call(site.plain, "api/2.0/mlflow/runs/search", request)
        mine = call(site.mlflow, "api/2.0/mlflow/runs/search", request)
        assert mine[0] in (200, 400), (case["name"], mine)
        if plain[0] >= 500:
            failing.append(case["filter"])
        if (plain[0] == 200) != (mine[0] == 200):
            differing.append(case["name"])
            assert "diff" in case, (case["name"], case["filter"], mine, plain)
        elif mine[0] == 200:
            assert answer(mine) == answer(plain), case["name"]
    assert differing  # the documented differences are met, so the comparison is real
    # server-errors (docs/compatibility.md): MLflow's own server fails on these; the plugin refuses them.
    assert failing == SERVER_ERRORS


def test_a_malformed_filter_is_a_400_with_the_caret(site: Site) -> None:
    for base in (site.extended, site.mlflow):
        for path in ("api/2.0/mlflow/runs/search", "ajax-api/2.0/mlflow/runs/search"):
            status, body = call(base, path, {"experiment_ids": [site.issue], "filter": "metrics.auc >> 0.5"})
            assert status == 400 and body["error_code"] == "INVALID_PARAMETER_VALUE", body
            assert body["message"].splitlines()[1:3] == ["  metrics.auc >> 0.5", "              ^^"], body
    # What the mlflow profile refuses is refused with runql's words, where the plain server says its own.
    status, body = call(
        site.mlflow, "api/2.0/mlflow/runs/search", {"experiment_ids": [site.issue], "filter": ISSUE_FILTER}
    )
    assert status == 400 and "[unsupported-parentheses]" in body["message"] and "^" in body["message"]
    assert (
        call(
            site.plain, "api/2.0/mlflow/runs/search", {"experiment_ids": [site.issue], "filter": ISSUE_FILTER}
        )[0]
        == 400
    )
    # Other arguments keep MLflow's checks and messages.
    for body in ({"page_token": "not a token"}, {"max_results": 50001}, {"experiment_ids": ["x"]}):
        request = {"experiment_ids": [site.issue], **body}
        plain, mine = (
            call(site.plain, "api/2.0/mlflow/runs/search", request),
            call(site.extended, "api/2.0/mlflow/runs/search", request),
        )
        assert mine[0] == plain[0] == 400 and mine[1]["error_code"] == plain[1]["error_code"], (
            body,
            mine,
            plain,
        )


def test_the_ui_endpoint_answers_the_issues_example(site: Site) -> None:
    expected = quietly(
        site.store.search_runs, [site.issue], ISSUE_FILTER, order_by=ISSUE_ORDER, output_format="list"
    )
    assert len(expected) == 7  # xgb, and a latest auc above 0.9 or prod
    request = {
        "experiment_ids": [site.issue],
        "filter": ISSUE_FILTER,
        "order_by": ISSUE_ORDER,
        "max_results": 3,
    }
    found: list[str] = []
    token = ""
    for _ in range(3):  # pages of 3, 3 and 1, as the UI pages
        status, ids, token = answer(call(site.extended, "ajax-api/2.0/mlflow/runs/search", request))
        assert status == 200
        found += ids
        request["page_token"] = token
    assert found == ids_of(expected) and not token
    # Text typed without a key: MLflow 3.17.2's UI can send it as an RLIKE on the run name (a quote escaped
    # with a backslash), joined to its time-range picker with a lowercase "and". Its own store refuses
    # RLIKE; the plugin answers.
    typed = {"experiment_ids": [site.edges], "filter": "attributes.run_name RLIKE 'edge [01]' and "}
    typed["filter"] += "attributes.start_time >= 999"
    status, ids, _ = answer(call(site.extended, "ajax-api/2.0/mlflow/runs/search", typed))
    assert status == 200 and len(ids) == 2
    assert call(site.plain, "ajax-api/2.0/mlflow/runs/search", typed)[0] == 400
    quoted = {"experiment_ids": [site.edges], "filter": "attributes.run_name RLIKE 'it\\'s'"}
    assert answer(call(site.extended, "ajax-api/2.0/mlflow/runs/search", quoted)) == (200, [], "")


def test_mlflow_search_runs_answers_the_issues_example(site: Site) -> None:
    import mlflow

    with tracking_uri(site.extended):
        frame = mlflow.search_runs([site.issue], filter_string=ISSUE_FILTER, order_by=ISSUE_ORDER)
    expected = quietly(site.store.search_runs, [site.issue], ISSUE_FILTER, order_by=ISSUE_ORDER)
    assert list(frame["run_id"]) == list(expected["run_id"])
    assert list(frame["params.model"]) == ["xgb"] * 7 and list(frame["metrics.auc"]) == list(
        expected["metrics.auc"]
    )


def test_experiment_searches(site: Site) -> None:
    from mlflow import MlflowClient

    plugin, plain = MlflowClient(tracking_uri=site.extended), MlflowClient(tracking_uri=site.plain)
    for text in (
        "name RLIKE '^(parting|issue)$'",
        "(name = 'parting' OR tags.team IS NOT NULL)",
        "NOT name LIKE 'gen%'",
    ):
        expected = quietly(site.store.search_experiments, filter_string=text, order_by=["name"])
        found = plugin.search_experiments(filter_string=text, order_by=["name"])
        assert [e.experiment_id for e in found] == [e.experiment_id for e in expected] and found, text
    paged: list[str] = []
    token = None
    for _ in range(3):  # pages of 2, 2 and 1 of the five experiments
        page = plugin.search_experiments(max_results=2, order_by=["name DESC"], page_token=token)
        paged += [e.name for e in page]
        token = page.token
    assert token is None and paged == [e.name for e in plain.search_experiments(order_by=["name DESC"])]
    status, body = call(
        site.extended,
        "api/2.0/mlflow/experiments/search",
        {"filter": "name = 'parting' OR name = 'issue'", "max_results": 10},
    )
    assert (
        status == 400
        and "[unsupported-or]" in body["message"]
        and "hint: write (name = 'parting'" in body["message"]
    )
    # The mlflow profile is MLflow's own experiment search.
    for request in (
        {"filter": "name LIKE '%a%'", "order_by": ["name"], "max_results": 10},
        {"filter": "name = 'a' OR name = 'b'", "max_results": 10},
        {"filter": "", "max_results": 2},
    ):
        assert call(site.mlflow, "api/2.0/mlflow/experiments/search", request) == call(
            site.plain, "api/2.0/mlflow/experiments/search", request
        )


def test_everything_else_is_as_on_the_plain_server(site: Site) -> None:
    from mlflow import MlflowClient
    from mlflow.entities import Dataset, DatasetInput, InputTag, LoggedModelOutput, Metric, Param, RunTag

    plugin, plain = MlflowClient(tracking_uri=site.extended), MlflowClient(tracking_uri=site.plain)
    name = f"written {uuid.uuid4().hex[:8]}"
    experiment_id = plugin.create_experiment(name, tags={"team": "a"})
    assert plain.get_experiment_by_name(name).experiment_id == experiment_id
    run = plugin.create_run(experiment_id, run_name="first", tags={"stage": "prod"})
    run_id = run.info.run_id
    plugin.log_batch(
        run_id,
        metrics=[Metric("loss", 1 / (step + 1), 1000 + step, step) for step in range(5)],
        params=[Param("model", "xgb")],
        tags=[RunTag("note", "hello")],
    )
    plugin.log_metric(run_id, "auc", 0.5, step=0)
    plugin.log_inputs(
        run_id,
        [
            DatasetInput(
                Dataset("train", "d1", "local", "s3://x"), [InputTag("mlflow.data.context", "training")]
            )
        ],
    )
    model = plugin.create_logged_model(experiment_id, source_run_id=run_id)
    plugin.log_outputs(run_id, [LoggedModelOutput(model.model_id, 3)])
    plugin.set_terminated(run_id)
    second = plugin.create_run(experiment_id, run_name="second").info.run_id
    assert plugin.get_run(run_id).to_dictionary() == plain.get_run(run_id).to_dictionary()
    assert [m.value for m in plugin.get_metric_history(run_id, "loss")] == [1, 1 / 2, 1 / 3, 1 / 4, 1 / 5]
    # The runs a search returns are the plain server's, to the last field: inputs and outputs included.
    for text in ("", "params.model = 'xgb'", "tags.stage = 'prod'", "metrics.loss < 1"):
        mine = plugin.search_runs([experiment_id], text, order_by=["attributes.start_time"])
        theirs = plain.search_runs([experiment_id], text, order_by=["attributes.start_time"])
        assert [r.to_dictionary() for r in mine] == [r.to_dictionary() for r in theirs], text
    assert plugin.search_runs([experiment_id], "params.model = 'xgb'")[0].outputs.model_outputs[0].step == 3
    plugin.delete_run(second)
    assert ids_of(plugin.search_runs([experiment_id], "")) == [run_id]
    assert ids_of(plugin.search_runs([experiment_id], "", run_view_type=2)) == [second]
    plugin.restore_run(second)
    assert ids_of(
        plugin.search_runs([experiment_id], "NOT params.model = 'x' OR attributes.run_name = 'second'")
    ) == ids_of(plain.search_runs([experiment_id], "", order_by=["attributes.start_time DESC"]))
    registered = f"model {uuid.uuid4().hex[:8]}"
    plugin.create_registered_model(registered)
    version = plugin.create_model_version(registered, f"runs:/{run_id}/model", run_id=run_id)
    assert plain.get_model_version(registered, version.version).run_id == run_id
    assert [m.name for m in plugin.search_registered_models(f"name = '{registered}'")] == [registered]
    plugin.delete_experiment(experiment_id)
    assert plain.get_experiment(experiment_id).lifecycle_stage == "deleted"


# -- in the process: what a server is built with ------------------------------------------------------


@pytest.fixture
def plugin_database(new_sqlite_database: Callable[..., str]) -> str:
    """A SQLite database holding the issue's runs."""
    database = new_sqlite_database(mlflow_schema=True)
    log_with_mlflow(database, issue_runs(), [{"experiment_id": "issue", "name": "issue"}])
    return database


def _built(uri: str) -> Any:
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = mlflow_plugin.tracking_store(uri, "file:///runql-test-artifacts")
    # MLflow keeps one engine per URL for the life of the process; these databases are the tests' own.
    SqlAlchemyStore._engine_map.pop(store.db_uri, None)
    return store


def test_a_page_is_read_in_chunks_in_its_order(plugin_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _built(plugin_uri(plugin_database))
    monkeypatch.setattr(mlflow_plugin, "_CHUNK", 3)
    experiment = store.get_experiment_by_name("issue").experiment_id
    found = store.search_runs([experiment], "", 1, max_results=20, order_by=["metrics.auc DESC"])
    reference = runql.connect(plugin_database)
    expected = quietly(
        reference.search_runs,
        [experiment],
        "",
        order_by=["metrics.auc DESC"],
        max_results=20,
        output_format="list",
    )
    assert ids_of(found) == ids_of(expected) and len(found) == 20 and found.token
    assert [r.data.metrics["auc"] for r in found] == [r.data.metrics["auc"] for r in expected]
    reference.close()


def test_workspaces_and_a_read_replica_are_mlflows(
    plugin_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    from mlflow.store.tracking.sqlalchemy_workspace_store import WorkspaceAwareSqlAlchemyStore

    replica = tmp_path / "replica.db"
    shutil.copyfile(plugin_database.removeprefix("sqlite:///"), replica)
    store = _built(plugin_uri(plugin_database))
    experiment = store.get_experiment_by_name("issue").experiment_id
    store.delete_run(ids_of(store.search_runs([experiment], "", 1, max_results=1))[0])
    # A read replica (a copy taken before the delete) answers the searches; the primary takes the writes.
    monkeypatch.setenv("_MLFLOW_SERVER_READ_REPLICA_BACKEND_STORE", plugin_uri(f"sqlite:///{replica}"))
    routed = _built(plugin_uri(plugin_database))
    assert str(routed.read_engine.url) == f"sqlite:///{replica}"
    assert (
        len(routed.search_runs([experiment], "", 1)) == 40
        and len(store.search_runs([experiment], "", 1)) == 39
    )
    SqlAlchemyStore._engine_map.pop(f"sqlite:///{replica}", None)
    monkeypatch.delenv("_MLFLOW_SERVER_READ_REPLICA_BACKEND_STORE")
    # With workspaces, MLflow's workspace-aware store, and a search sees the active workspace's runs only,
    # whichever experiments it names.
    from mlflow.entities.workspace import Workspace
    from mlflow.utils.workspace_context import WorkspaceContext

    monkeypatch.setenv("MLFLOW_ENABLE_WORKSPACES", "true")
    mlflow_plugin.workspace_store(plugin_uri(plugin_database)).create_workspace(Workspace("other"))
    with WorkspaceContext("other"):
        aside = _built(plugin_uri(plugin_database))
        assert isinstance(aside, WorkspaceAwareSqlAlchemyStore) and isinstance(
            aside, mlflow_plugin.RunqlSearches
        )
        elsewhere = aside.create_experiment("elsewhere")
        aside.create_run(elsewhere, "someone", 1, [], "aside")
        assert (
            len(
                aside.search_runs(
                    [elsewhere, experiment], "tags.stage = 'prod' OR attributes.run_name = 'aside'", 1
                )
            )
            == 1
        )
    with WorkspaceContext("default"):
        found = aside.search_runs(
            [elsewhere, experiment], "tags.stage = 'prod' OR attributes.run_name = 'aside'", 1
        )
        assert {run.info.experiment_id for run in found} == {experiment} and len(
            found
        ) == 13  # 14, one deleted


def test_a_composed_scope_is_never_escaped(plugin_database: str) -> None:
    """MLflow 3.18's basic-auth appends ``AND <scope>`` to the caller's experiment filter: an OR at the top
    is refused, and one in parentheses stays inside the scope."""
    from mlflow.exceptions import MlflowException

    store = _built(plugin_uri(plugin_database))
    issue = store.get_experiment_by_name("issue").experiment_id
    scope = "experiment_id IN ('0')"
    for text in ("name = 'issue' OR name = 'x'", "NOT name = 'x' OR name = 'issue'"):
        with pytest.raises(MlflowException, match=r"\[unsupported-or\]") as refused:
            store.search_experiments(filter_string=f"{text} AND {scope}")
        assert refused.value.error_code == "INVALID_PARAMETER_VALUE"
    found = store.search_experiments(filter_string=f"(name = 'issue' OR name = 'Default') AND {scope}")
    assert [e.experiment_id for e in found] == ["0"]
    assert issue not in [
        e.experiment_id for e in store.search_experiments(filter_string=f"NOT (name = 'Default') AND {scope}")
    ]


# -- basic-auth ----------------------------------------------------------------------------------------


@dataclass
class Guarded:
    url: str
    admin: tuple[str, str]
    user: tuple[str, str]
    allowed: str  # the experiment the user may read
    denied: str


@pytest.fixture(scope="module")
def guarded(
    new_sqlite_database: Callable[..., str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Guarded]:
    folder = tmp_path_factory.mktemp("auth")
    database = new_sqlite_database(mlflow_schema=True)
    written = log_with_mlflow(
        database,
        [
            {**record, "experiment_id": "a" if i % 2 else "b", "run_id": f"{i:032x}"}
            for i, record in enumerate(issue_runs()[:20])
        ],
        [{"experiment_id": "a", "name": "allowed"}, {"experiment_id": "b", "name": "denied"}],
    )
    admin = ("admin", uuid.uuid4().hex)
    config = folder / "basic_auth.ini"
    config.write_text(
        "[mlflow]\ndefault_permission = NO_PERMISSIONS\n"
        f"database_uri = sqlite:///{folder / 'users.db'}\nadmin_username = admin\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        # Checking a password costs a deliberate fraction of a second; once a minute is enough here.
        "auth_cache_ttl_seconds = 60\n"
    )
    environment = {
        "MLFLOW_AUTH_CONFIG_PATH": str(config),
        "MLFLOW_AUTH_ADMIN_PASSWORD": admin[1],
        "MLFLOW_FLASK_SERVER_SECRET_KEY": uuid.uuid4().hex,
    }
    options = {"arguments": ["--app-name", "basic-auth"], "environment": environment}
    with servers((plugin_uri(database), options), folder=folder) as (url,):
        user = ("alice", uuid.uuid4().hex)
        created = call(
            url, "api/2.0/mlflow/users/create", {"username": user[0], "password": user[1]}, user=admin
        )
        assert created[0] == 200, created
        grant = {
            "username": user[0],
            "resource_type": "experiment",
            "resource_id": written.experiments["a"],
            "permission": "READ",
        }
        granted = call(url, "api/3.0/mlflow/users/permissions/grant", grant, user=admin)
        assert granted[0] == 200, granted
        yield Guarded(url, admin, user, written.experiments["a"], written.experiments["b"])


AUTH_FILTERS = [
    "",
    "tags.stage = 'prod' OR tags.stage = 'dev'",
    "params.model = 'rf' OR NOT params.model = 'rf'",
    "attributes.run_name RLIKE '.' OR metrics.auc IS NOT NULL",
    "(attributes.status = 'FINISHED') OR params.model IS NOT NULL",
]


def test_a_user_sees_only_the_runs_allowed(guarded: Guarded) -> None:
    both = [guarded.allowed, guarded.denied]
    admin = answer(
        call(
            guarded.url,
            "api/2.0/mlflow/runs/search",
            {"experiment_ids": both, "filter": AUTH_FILTERS[1]},
            user=guarded.admin,
        )
    )
    assert admin[0] == 200 and len(admin[1]) == 20
    for text in AUTH_FILTERS:
        for experiment_ids in (both, [guarded.denied]):
            status, body = call(
                guarded.url,
                "api/2.0/mlflow/runs/search",
                {"experiment_ids": experiment_ids, "filter": text},
                user=guarded.user,
            )
            assert status == 200, body
            seen = {run["info"]["experiment_id"] for run in body.get("runs", [])}
            assert seen <= {guarded.allowed}, text
            assert bool(seen) == (guarded.allowed in experiment_ids), text


def test_a_user_sees_only_the_experiments_allowed(guarded: Guarded) -> None:
    filters = [
        "",
        "(name = 'denied' OR name = 'allowed')",
        "(name = 'denied' OR name LIKE '%')",
        "name RLIKE 'denied|allowed'",
        "NOT name = 'x'",
        f"experiment_id = '{guarded.denied}'",
        f"(experiment_id IN ('{guarded.denied}') OR name = 'allowed')",
    ]
    for text in filters:
        for page in (1, 1000):
            status, body = call(
                guarded.url,
                "api/2.0/mlflow/experiments/search",
                {"filter": text, "max_results": page},
                user=guarded.user,
            )
            assert status == 200, (text, body)
            assert {e["experiment_id"] for e in body.get("experiments", [])} <= {guarded.allowed}, text
    status, body = call(
        guarded.url,
        "api/2.0/mlflow/experiments/search",
        {"filter": "name = 'denied' OR name = 'allowed'", "max_results": 10},
        user=guarded.user,
    )
    assert status == 400 and "[unsupported-or]" in body["message"]
    status, body = call(
        guarded.url,
        "api/2.0/mlflow/experiments/search",
        {"filter": "(name = 'denied' OR name = 'allowed')", "max_results": 10},
        user=guarded.admin,
    )
    assert sorted(e["name"] for e in body["experiments"]) == ["allowed", "denied"]
