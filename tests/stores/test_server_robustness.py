"""A tracking server that misbehaves: the server store and the server reader end, with runql's errors.

Each server here is a small HTTP server in a thread answering MLflow's REST endpoints the way a broken
or hostile server might: page tokens that never change, runs repeated across pages, a stall after the
health check, 500 for everything, replies protobuf cannot parse, basic authentication in the URL.
Nothing waits on a clock: a stalled server waits on an event the test sets when it ends, and the store's
deadline is a fraction of a second. A request the deadline cut short may be retried by MLflow's client
after its test: each server answers under a path of its own, so such a request never reaches, nor is
counted by, the server of another test that got the same port.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

import runql
from runql.stores.server import DEADLINE, ServerStore

Reply = tuple[int, Any]
"""An HTTP status and a body: a JSON value, or bytes sent as they are."""

# Past this many requests a server answers 400, so that today's endless loops end in a test, as a failure.
REQUEST_LIMIT = 50


class Request:
    """One request the server received: its method, endpoint (the path after /api/2.0/mlflow/, or
    'health'), arguments (JSON body or query string) and Authorization header."""

    def __init__(self, method: str, endpoint: str, arguments: dict[str, Any], authorization: str | None):
        self.method = method
        self.endpoint = endpoint
        self.arguments = arguments
        self.authorization = authorization


# The searches of a server's models, answered empty unless ``answer`` says otherwise: loading a workspace
# from a server lists its registry and logged models beside its runs.
EMPTY: dict[str, Reply] = {
    endpoint: (200, {})
    for endpoint in ("registered-models/search", "model-versions/search", "logged-models/search")
}


class FakeServer:
    """An HTTP server answering each request with ``answer(request)``; ``/health`` answers OK and the model
    searches an empty page unless ``answer`` says otherwise. ``stalled`` holds requests until the server
    stops."""

    def __init__(self, answer: Callable[[Request], Reply | None]) -> None:
        self.answer = answer
        self.prefix = f"/{uuid.uuid4().hex}"
        self.requests: list[Request] = []
        self.stalled = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._reply()

            def do_POST(self) -> None:
                self._reply()

            def _reply(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if not parts.path.startswith(server.prefix):
                    self.send_error(404)
                    return
                arguments = json.loads(body) if body else {k: v[0] for k, v in parse_qs(parts.query).items()}
                endpoint = parts.path.removeprefix(server.prefix).removeprefix("/api/2.0/mlflow/").strip("/")
                request = Request(self.command, endpoint, arguments, self.headers.get("Authorization"))
                server.requests.append(request)
                reply = server.answer(request) if len(server.requests) <= REQUEST_LIMIT else None
                if reply is None:
                    reply = (
                        (200, b"OK")
                        if endpoint == "health"
                        else EMPTY.get(endpoint, (400, {"message": "enough"}))
                    )
                status, content = reply
                data = content if isinstance(content, bytes) else json.dumps(content).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        self.thread = threading.Thread(target=self.http.serve_forever, args=(0.01,), daemon=True)
        self.thread.start()

    def url(self, userinfo: str = "") -> str:
        return f"http://{userinfo}127.0.0.1:{self.http.server_address[1]}{self.prefix}"

    def asked(self, endpoint: str) -> list[Request]:
        return [r for r in self.requests if r.endpoint == endpoint]

    def stall(self) -> None:
        """Hold the request until the server stops."""
        self.stalled.wait()

    def stop(self) -> None:
        self.stalled.set()
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[Request], Reply | None]], FakeServer]]:
    started: list[FakeServer] = []

    def start(answer: Callable[[Request], Reply | None]) -> FakeServer:
        started.append(FakeServer(answer))
        return started[-1]

    yield start
    for server in started:
        server.stop()


def run(index: int, **info: Any) -> dict[str, Any]:
    """A run as MLflow's REST API sends it."""
    run_id = f"{index:032x}"
    return {
        "info": {
            "run_id": run_id,
            "run_uuid": run_id,
            "experiment_id": "1",
            "status": "FINISHED",
            "start_time": 1_000_000 - index,
            "lifecycle_stage": "active",
            **info,
        },
        "data": {
            "metrics": [{"key": "loss", "value": 1.0 / (index + 1), "timestamp": 5, "step": 0}],
            "params": [{"key": "model", "value": "xgb" if index % 2 else "rf"}],
            "tags": [],
        },
    }


EXPERIMENT = {"experiment_id": "1", "name": "one", "lifecycle_stage": "active", "artifact_location": "x"}


def _ids(runs: list[Any]) -> list[str]:
    return [r.info.run_id for r in runs]


# -- tokens that never end, runs that come twice --------------------------------------------------


def test_a_page_token_that_never_changes_stops_the_search(serve: Any) -> None:
    server = serve(
        lambda r: (
            (200, {"runs": [run(0)], "next_page_token": "same"}) if r.endpoint == "runs/search" else None
        )
    )
    store = ServerStore(server.url())
    with pytest.raises(runql.StoreError) as caught:
        store.search_runs(["1"])
    assert caught.value.code == "server-misbehaved" and "page token" in str(caught.value)
    # The second page's token is the first's: the search stops there.
    assert len(server.asked("runs/search")) == 2


def test_a_page_token_that_comes_back_round_stops_the_search(serve: Any) -> None:
    tokens = {None: "a", "a": "b", "b": "a"}

    def answer(request: Request) -> Reply | None:
        if request.endpoint != "runs/search":
            return None
        token = request.arguments.get("page_token")
        return 200, {"runs": [run(len(server.requests))], "next_page_token": tokens[token]}

    server = serve(answer)
    with pytest.raises(runql.StoreError) as caught:
        ServerStore(server.url(), profile="extended").search_runs_paged(
            ["1"], "params.model = 'rf' OR params.model = 'xgb'"
        )
    assert caught.value.code == "server-misbehaved"
    assert len(server.asked("runs/search")) == 3


def test_experiments_whose_page_token_never_changes_stop(serve: Any) -> None:
    server = serve(
        lambda r: (
            (200, {"experiments": [EXPERIMENT], "next_page_token": "same"})
            if r.endpoint == "experiments/search"
            else None
        )
    )
    store = ServerStore(server.url())
    with pytest.raises(runql.StoreError) as caught:
        store.search_experiments()
    assert caught.value.code == "server-misbehaved" and len(server.asked("experiments/search")) == 2
    with pytest.raises(runql.StoreError, match="page token"):
        runql.from_mlflow(server.url())


def test_a_history_whose_page_token_never_changes_stops(serve: Any) -> None:
    point = {"key": "loss", "value": 0.5, "timestamp": 1, "step": 0}

    def answer(request: Request) -> Reply | None:
        if request.endpoint == "metrics/get-history":
            return 200, {"metrics": [point], "next_page_token": "same"}
        if request.endpoint == "experiments/search":
            return 200, {"experiments": [EXPERIMENT]}
        if request.endpoint == "runs/search":
            return 200, {"runs": [run(0)]}
        return None

    server = serve(answer)
    with pytest.raises(runql.StoreError) as caught:
        ServerStore(server.url()).get_metric_history(f"{0:032x}", "loss")
    assert caught.value.code == "server-misbehaved" and len(server.asked("metrics/get-history")) == 2
    workspace = runql.from_mlflow(server.url())
    with pytest.raises(runql.StoreError, match="page token") as caught:
        workspace.get_metric_history(f"{0:032x}", "loss")
    assert caught.value.code == "server-misbehaved"


def test_a_server_whose_pages_never_end_is_stopped_at_the_limit(
    serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("runql.sources.mlflow_client.MAX_PAGES", 5)
    server = serve(
        lambda r: (
            (200, {"runs": [], "next_page_token": f"t{len(server.requests)}"})
            if r.endpoint == "runs/search"
            else None
        )
    )
    with pytest.raises(runql.StoreError, match="more than 5 pages") as caught:
        ServerStore(server.url()).search_runs(["1"])
    assert caught.value.code == "server-misbehaved" and len(server.asked("runs/search")) == 5


def test_runs_and_experiments_a_server_repeats_are_kept_once(serve: Any) -> None:
    pages = {None: ([0, 1, 2], "p2"), "p2": ([2, 1, 2, 3], None)}

    def answer(request: Request) -> Reply | None:
        if request.endpoint == "runs/search":
            indexes, token = pages[request.arguments.get("page_token")]
            return 200, {"runs": [run(i) for i in indexes], **({"next_page_token": token} if token else {})}
        if request.endpoint == "experiments/search":
            return 200, {"experiments": [EXPERIMENT, EXPERIMENT]}
        return None

    server = serve(answer)
    store = ServerStore(server.url(), profile="extended")
    expected = [f"{i:032x}" for i in range(4)]
    assert _ids(store.search_runs(["1"], output_format="list")) == expected
    # Filtered here: the residual sees each run once.
    assert (
        _ids(store.search_runs(["1"], "params.model = 'rf' OR params.model = 'xgb'", output_format="list"))
        == expected
    )
    # Paged by the server: a page it sends with a run twice holds it once.
    page, _ = store.search_runs_paged(["1"], page_token="p2", max_results=3)
    assert _ids(page) == [f"{i:032x}" for i in (2, 1, 3)]
    assert [e.experiment_id for e in store.experiments] == ["1"]
    workspace = runql.from_mlflow(server.url())
    assert sorted(r.info.run_id for r in workspace.runs) == expected


# -- a server that stalls or fails: the deadline -----------------------------------------------------


@pytest.fixture
def mlflows_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow's own retries and timeout, whatever the environment of the tests says."""
    for name in (
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
        "MLFLOW_HTTP_REQUEST_TIMEOUT",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("mlflows_retries")
def test_a_server_that_stalls_after_its_health_check_meets_the_deadline(serve: Any) -> None:
    def answer(request: Request) -> Reply | None:
        if request.endpoint == "health":
            return None
        server.stall()
        return 400, {"message": "the test is over"}  # not retried: the call left behind ends

    server = serve(answer)
    store = ServerStore(server.url(), deadline=0.2)
    for call in (
        lambda: store.search_runs(["1"]),
        lambda: store.get_run("0" * 32),
        lambda: store.experiments,
    ):
        with pytest.raises(runql.StoreError) as caught:
            call()
        assert caught.value.code == "server-timeout" and "0.2 s" in str(caught.value)


@pytest.mark.usefixtures("mlflows_retries")
def test_a_server_that_answers_500_fails_at_the_deadline_not_after_mlflows_retries(serve: Any) -> None:
    failing = threading.Event()
    failing.set()

    def answer(request: Request) -> Reply | None:
        if request.endpoint == "health":
            return None
        if failing.is_set():
            return 500, {"error_code": "INTERNAL_ERROR"}
        return 400, {"message": "the test is over"}  # not retried: the call left behind ends

    server = serve(answer)
    before = set(threading.enumerate())
    with pytest.raises(runql.StoreError) as caught:
        ServerStore(server.url(), deadline=0.2).search_runs_paged(["1"])
    assert caught.value.code == "server-timeout"
    # The call left behind goes on retrying with MLflow's back-off until it is answered otherwise: let it
    # end here, not in a later test.
    failing.clear()
    for thread in set(threading.enumerate()) - before:
        thread.join(timeout=60)


def test_the_deadline_has_a_default_and_can_be_set_or_removed(serve: Any) -> None:
    server = serve(lambda r: None)
    store = runql.connect(server.url())
    assert isinstance(store, ServerStore) and store.deadline == DEADLINE == 120
    store.deadline = 3
    assert store.deadline == 3.0
    store.deadline = None
    assert store.deadline is None
    assert ServerStore(server.url(), deadline=float("inf")).deadline is None
    assert ServerStore(server.url(), deadline=None).deadline is None
    for bad in (0, -1, float("nan"), "10", True):
        with pytest.raises(ValueError, match="deadline"):
            store.deadline = bad  # type: ignore[assignment]


# -- replies protobuf cannot parse --------------------------------------------------------------------


def _with_bare(value: Any, marker: str, bare: str) -> bytes:
    """JSON of ``value`` with the string ``marker`` written as the bare literal ``bare`` (1e400)."""
    return json.dumps(value).replace(f'"{marker}"', bare).encode()


@pytest.mark.parametrize(
    ("endpoint", "reply", "field"),
    [
        ("runs/search", {"runs": [run(0, run_id=5)]}, "run_id"),
        ("runs/search", _with_bare({"runs": [run(0, start_time="BIG")]}, "BIG", "1e400"), "start_time"),
        (
            "metrics/get-history",
            {"metrics": [{"key": "loss", "value": 1.0, "timestamp": 1, "step": 2**70}]},
            "step",
        ),
    ],
)
def test_a_reply_that_cannot_be_parsed_is_a_store_error_naming_the_field(
    serve: Any, endpoint: str, reply: Any, field: str
) -> None:
    server = serve(lambda r: (200, reply) if r.endpoint == endpoint else None)
    store = ServerStore(server.url())
    with pytest.raises(runql.StoreError) as caught:
        if endpoint == "runs/search":
            store.search_runs(["1"])
        else:
            store.get_metric_history("0" * 32, "loss")
    assert caught.value.code == "server-misbehaved" and field in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_server_reader_names_a_reply_it_cannot_parse(serve: Any) -> None:
    def answer(request: Request) -> Reply | None:
        if request.endpoint == "experiments/search":
            return 200, {"experiments": [EXPERIMENT]}
        if request.endpoint == "runs/search":
            return 200, {"runs": [run(0, run_id=5)]}
        return None

    server = serve(answer)
    with pytest.raises(runql.StoreError, match="run_id") as caught:
        runql.from_mlflow(server.url())
    assert caught.value.code == "server-misbehaved"


# -- credentials in the URL ---------------------------------------------------------------------------

ALICE = "Basic " + base64.b64encode(b"alice:s3cret").decode()


def test_a_url_with_a_user_and_password_connects_and_never_shows_the_password(serve: Any) -> None:
    def answer(request: Request) -> Reply | None:
        if request.authorization != ALICE:
            return 401, {"error_code": "UNAUTHENTICATED", "message": "who are you?"}
        if request.endpoint == "runs/search":
            return 200, {"runs": [run(0)]}
        if request.endpoint == "runs/get":
            return 403, {
                "error_code": "PERMISSION_DENIED",
                "message": f"not for {server.url('alice:s3cret@')}",
            }
        return None

    server = serve(answer)
    store = runql.connect(server.url("alice:s3cret@"))
    assert store.where == server.url("alice:***@") and "s3cret" not in repr(store)
    assert _ids(store.search_runs(["1"], output_format="list")) == [f"{0:032x}"]
    assert [r.authorization for r in server.requests] == [ALICE, ALICE]
    assert server.requests[0].endpoint == "health"
    with pytest.raises(runql.StoreError) as refused:
        store.get_run(f"{0:032x}")
    assert "s3cret" not in str(refused.value) and "alice:***@" in str(refused.value)


def test_a_password_with_reserved_characters_is_sent_as_typed(serve: Any) -> None:
    wanted = "Basic " + base64.b64encode(b"al ice:p@ss:word").decode()
    server = serve(lambda r: None if r.authorization == wanted else (401, {"message": "no"}))
    store = runql.connect(server.url("al%20ice:p%40ss%3Aword@"))
    assert isinstance(store, ServerStore) and server.requests[0].authorization == wanted


@pytest.mark.parametrize(
    "url",
    [
        "oracle://alice:s3cret@db/x",
        "cockroachdb://alice:s3cret@db:26257/x",
        "redshift+psycopg2://alice:s3cret@cluster:5439/x",
        "s3://alice:s3cret@bucket/mlruns",
        "ftp://alice:s3cret@host/mlruns",
        "mlflow-artifacts://alice:s3cret@host/mlruns",
    ],
)
def test_a_scheme_no_store_reads_is_refused_without_the_password(url: str) -> None:
    for opening in (runql.connect, runql.Workspace.load):
        with pytest.raises(runql.StoreError) as caught:
            opening(url)
        shown = [str(caught.value), repr(caught.value), caught.value.where]
        shown += [str(e) for e in (caught.value.__cause__, caught.value.__context__) if e is not None]
        assert caught.value.code == "not-a-store" and not any("s3cret" in text for text in shown)
        assert "alice:***@" in caught.value.where


def test_an_experiment_id_is_sent_only_as_mlflow_writes_it() -> None:
    """A server reads "٧" (ARABIC-INDIC SEVEN) as experiment 7: an id it would read as another names no
    experiment, and never reaches the server; one that is no number is the server's to refuse."""
    asked: list[list[str]] = []

    class Client:
        def search_runs(self, experiment_ids: list[str], *args: Any, **kwargs: Any) -> Any:
            from mlflow.store.entities.paged_list import PagedList

            asked.append(list(experiment_ids))
            return PagedList([], None)

    store = ServerStore("http://127.0.0.1:9", client=Client())
    for spelling in ["٧", "07", " 7", "+7", "9" * 30]:
        assert store.search_runs_paged([spelling]) == ([], None)
    assert asked == []
    store.search_runs_paged(["7"])
    store.search_runs_paged(["abc", "²"])
    assert asked == [["7"], ["abc", "²"]]
