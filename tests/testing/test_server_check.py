"""``check_server`` and ``runql conform`` against a real ``mlflow server`` on loopback, and against a proxy
in front of it that breaks the server's searches in known ways."""

from __future__ import annotations

import json
import os
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from support.commands import run_command
from support.services import free_port, mlflow_server

import runql.profiles.catalog
from runql.testing.conformance import ServerReport, check_server

mlflow = pytest.importorskip("mlflow")

SEED = 20261206
EXAMPLES = 40
_SEARCH = "/api/2.0/mlflow/runs/search"
_EXPERIMENT_SEARCH = "/api/2.0/mlflow/experiments/search"
# The planted server error: a filter with LIKE (ILIKE is a word of its own, so it passes).
_LIKE = re.compile(r"\bLIKE\b", re.IGNORECASE)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("conform-server")
    with mlflow_server(f"sqlite:///{folder / 'mlflow.db'}", folder) as url:
        yield url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def plain_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A plain ``mlflow server`` over SQLite (the module's), or over a new PostgreSQL database."""
    if request.param == "sqlite":
        yield request.getfixturevalue("server")
        return
    folder = tmp_path_factory.mktemp("conform-postgresql")
    with mlflow_server(request.getfixturevalue("new_postgres_database")(), folder) as url:
        yield url


class BrokenProxy:
    """A proxy in front of a tracking server that breaks its run searches: it drops the first run logged
    into the checked experiment, returns the third one twice, reverses the order of start-time ties
    when no order_by is given, answers 500 to a filter with LIKE and refuses IS NULL with a 400.

    A ``lacking`` proxy breaks no search but lacks what some servers lack: the log-inputs endpoint and
    keys that are not ASCII. An ``experiments`` proxy breaks experiment searches alone: it returns the
    experiments in reverse order."""

    def __init__(self, upstream: str, lacking: bool = False, experiments: bool = False) -> None:
        self.upstream = upstream
        self.lacking = lacking
        self.experiments = experiments
        self.workspace: str | None = None
        self.created: list[str] = []
        self.errors_sent = 0
        self.searches = 0
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._forward(None)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self._forward(self.rfile.read(length))

            def do_PATCH(self) -> None:
                self.do_POST()

            def _forward(self, body: bytes | None) -> None:
                status, data = proxy.handle(self.command, self.path, body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"

    def _upstream(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        request = urllib.request.Request(
            self.upstream + path, data=body, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def handle(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        asked = json.loads(body) if body else {}
        if self.lacking:
            if path.startswith("/api/2.0/mlflow/runs/log-inputs"):
                return 404, b'{"error_code": "ENDPOINT_NOT_FOUND", "message": "no such endpoint"}'
            if path.startswith("/api/2.0/mlflow/runs/log-parameter") and not asked["key"].isascii():
                return 400, b'{"error_code": "INVALID_PARAMETER_VALUE", "message": "ASCII keys only"}'
            return self._upstream(method, path, body)
        if self.experiments:
            status, data = self._upstream(method, path, body)
            if path.startswith(_EXPERIMENT_SEARCH) and status == 200:
                answer = json.loads(data)
                answer["experiments"] = answer.get("experiments", [])[::-1]
                data = json.dumps(answer).encode()
            return status, data
        if path.startswith(_SEARCH):
            return self._search(method, path, body, asked)
        status, data = self._upstream(method, path, body)
        creating = path.startswith(("/api/2.0/mlflow/experiments/create", "/api/2.0/mlflow/runs/create"))
        answer = json.loads(data) if creating and status == 200 else {}
        with self.lock:
            if path.startswith("/api/2.0/mlflow/experiments/create") and asked["name"].endswith("-runs"):
                self.workspace = answer["experiment_id"]
            elif path.startswith("/api/2.0/mlflow/runs/create") and asked["experiment_id"] == self.workspace:
                self.created.append(answer["run"]["info"]["run_id"])
        return status, data

    def _search(self, method: str, path: str, body: bytes | None, asked: dict[str, Any]) -> tuple[int, bytes]:
        text = asked.get("filter", "")
        with self.lock:
            self.searches += 1
        if "IS NULL" in text.upper():
            refusal = {"error_code": "INVALID_PARAMETER_VALUE", "message": "IS NULL is not supported"}
            return 400, json.dumps(refusal).encode()
        if _LIKE.search(text):
            with self.lock:
                self.errors_sent += 1
            return 500, b'{"error_code": "INTERNAL_ERROR", "message": "planted"}'
        status, data = self._upstream(method, path, body)
        if status != 200 or asked.get("experiment_ids") != [self.workspace]:
            return status, data
        answer = json.loads(data)
        found = [r for r in answer.get("runs", []) if r["info"]["run_id"] != self.created[0]]
        copies = [r for r in found if r["info"]["run_id"] == self.created[2]]
        found += copies
        if not asked.get("order_by"):
            found = _reverse_ties(found)
        answer["runs"] = found
        return 200, json.dumps(answer).encode()

    def __enter__(self) -> BrokenProxy:
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.shutdown()
        self.http.server_close()


def _reverse_ties(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Runs sorted by start time, newest first, with the runs of equal start times in reverse order."""
    groups: dict[int, list[dict[str, Any]]] = {}
    for run in found:
        groups.setdefault(int(run["info"]["start_time"]), []).append(run)
    return [run for start in sorted(groups, reverse=True) for run in reversed(groups[start])]


@pytest.fixture(scope="module")
def broken(server: str) -> Iterator[BrokenProxy]:
    with BrokenProxy(server) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def broken_report(broken: BrokenProxy) -> ServerReport:
    return check_server(broken.url, max_examples=EXAMPLES, seed=SEED)


def _conform_experiments(url: str) -> dict[str, str]:
    client = mlflow.MlflowClient(tracking_uri=url)
    found = client.search_experiments(view_type=3, filter_string="name LIKE 'runql-conform-%'")
    return {e.name: e.lifecycle_stage for e in found}


def test_a_plain_mlflow_server_agrees_on_every_query(plain_server: str) -> None:
    server = plain_server
    before = set(_conform_experiments(server))
    report = check_server(server, max_examples=EXAMPLES, seed=SEED)
    assert report.total == EXAMPLES
    assert report.agreed == EXAMPLES, report.to_markdown()
    assert report.agreement == 1.0
    # Judged by the profile of the MLflow version the server reports: 3.17 refuses `attributes.` on
    # experiments, which the latest (mlflow) accepts.
    assert report.capabilities["MLflow version"] == mlflow.__version__
    assert report.profile == runql.profiles.catalog.mlflow_profile_for(mlflow.__version__).name
    assert report.capabilities["log-inputs endpoint"] == "yes"
    assert report.capabilities["non-ASCII keys"] == "yes"
    assert report.capabilities["page token"] == "base64 JSON with ['offset']"
    assert report.missing == {}
    assert any("store-safe" in note for note in report.notes)
    # The probe's, the workspace's and the generated experiments, named after the seed, deleted afterwards.
    logged = {name: stage for name, stage in _conform_experiments(server).items() if name not in before}
    assert len(logged) >= 2 + 3
    assert all(name.startswith(f"runql-conform-{SEED}-") for name in logged)
    assert set(logged.values()) == {"deleted"}


def test_a_wrong_experiment_search_is_caught(server: str) -> None:
    with BrokenProxy(server, experiments=True) as proxy:
        report = check_server(proxy.url, max_examples=EXAMPLES, seed=SEED)
    assert set(report.counts) == {"wrong-order"}, report.to_markdown()
    order = report.examples["wrong-order"]
    assert order.entity == "experiments"
    assert order.filter_string.startswith("name LIKE 'runql-conform-")
    assert order.got == [e for e in order.expected if e in order.got][::-1] != order.expected
    assert "- search: experiments" in report.to_markdown()


def test_the_environment_is_restored_and_credentials_not_shown(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "7")
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_TIMEOUT", raising=False)
    with_password = server.replace("http://", "http://alice:s3cret-word@")
    report = check_server(with_password, max_examples=4, seed=SEED)
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "7"
    assert "MLFLOW_HTTP_REQUEST_TIMEOUT" not in os.environ
    assert report.agreement == 1.0
    assert "s3cret-word" not in report.to_markdown() + report.to_json()
    assert "alice:***@" in report.uri


def test_every_planted_fault_is_named_in_its_category(
    broken: BrokenProxy, broken_report: ServerReport
) -> None:
    report = broken_report
    dropped, doubled = broken.created[0], broken.created[2]
    assert report.agreement < 1.0
    assert set(report.counts) == {"refused", "server-error", "wrong-rows", "wrong-order"}
    refused = report.examples["refused"]
    assert "IS NULL" in refused.filter_string.upper()
    assert refused.detail.startswith("HTTP 400: IS NULL is not supported")
    error = report.examples["server-error"]
    assert _LIKE.search(error.filter_string) and "HTTP 500: planted" in error.detail
    rows = report.examples["wrong-rows"]
    assert f"missing ['{dropped}']" in rows.detail and f"duplicated ['{doubled}']" in rows.detail
    assert rows.got.count(doubled) == 2 and dropped in rows.expected and dropped not in rows.got
    order = report.examples["wrong-order"]
    shared = [run for run in order.expected if run in order.got]
    assert order.order_by == [] and list(dict.fromkeys(r for r in order.got if r in shared)) != shared
    assert report.total == EXAMPLES
    # A query may show two faults (a dropped run and ties reversed): counted in both categories.
    assert sum(report.counts.values()) >= report.total - report.agreed > 0
    # No retries: each planted 500 was asked once.
    assert broken.errors_sent == report.counts["server-error"]


def test_the_report_renders_as_markdown_and_json(broken_report: ServerReport) -> None:
    markdown = broken_report.to_markdown()
    assert f"{broken_report.agreed}/{EXAMPLES} queries" in markdown
    for heading in ("refused (4xx)", "server error (5xx)", "wrong rows", "wrong order"):
        assert f"### {heading}" in markdown
    data = json.loads(broken_report.to_json())
    assert data["queries"] == EXAMPLES and data["agreement"] == broken_report.agreement
    assert set(data["disagreements"]) == set(broken_report.counts)
    assert data["disagreements"]["refused"]["example"]["filter_string"] == (
        broken_report.examples["refused"].filter_string
    )


def test_the_command_exits_by_the_agreement(server: str, broken: BrokenProxy, tmp_path: Path) -> None:
    plain = run_command(
        "conform", server, "--examples", "6", "--seed", "3", "--report", str(tmp_path / "a.json")
    )
    assert plain.returncode == 0, plain.stderr
    assert "6/6 queries" in plain.stdout
    assert json.loads((tmp_path / "a.json").read_text())["agreement"] == 1.0

    failing = ["conform", broken.url, "--examples", "12", "--seed", "3", "--report", str(tmp_path / "b.md")]
    below = run_command(*failing)
    assert below.returncode == 1
    assert "below --min-agreement 100.00%" in below.stderr
    written = (tmp_path / "b.md").read_text()
    assert written == below.stdout and written.startswith("# runql conform:")
    assert run_command(*failing, "--min-agreement", "0").returncode == 0

    wrong = run_command("conform", server, "--report", str(tmp_path / "c.txt"))
    assert wrong.returncode == 1 and ".md or a .json" in wrong.stderr


def test_keep_leaves_the_experiments(server: str) -> None:
    before = set(_conform_experiments(server))
    check_server(server, max_examples=2, seed=7, keep=True)
    kept = {name: stage for name, stage in _conform_experiments(server).items() if name not in before}
    probe_and_runs = {name: stage for name, stage in kept.items() if name.endswith(("-probe", "-runs"))}
    assert len(probe_and_runs) == 2 and set(probe_and_runs.values()) == {"active"}
    # Of the generated experiments the last is deleted: experiment searches see every view type.
    generated = [kept[name] for name in sorted(kept) if name not in probe_and_runs]
    assert len(generated) >= 3 and generated[:-1] == ["active"] * (len(generated) - 1)
    assert generated[-1] == "deleted"


def test_a_server_that_does_not_answer_is_one_line() -> None:
    # With MLflow's default retries (seven, with back-off) the refused connection would take minutes
    # and run_command's timeout would fail this test: the check sets MLFLOW_HTTP_REQUEST_MAX_RETRIES=0.
    done = run_command("conform", f"http://bob:pa55word@127.0.0.1:{free_port()}", "--timeout", "5")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert (
        done.stderr.startswith("error: http://bob:***@127.0.0.1:") and "could not be reached" in done.stderr
    )
    assert "pa55word" not in done.stderr and done.stderr.count("\n") == 1


def test_a_missing_capability_is_reported_once_and_its_queries_counted(server: str) -> None:
    with BrokenProxy(server, lacking=True) as proxy:
        report = check_server(proxy.url, max_examples=EXAMPLES, seed=SEED)
    assert report.capabilities["log-inputs endpoint"].startswith("missing (")
    assert report.capabilities["non-ASCII keys"] == "refused"
    assert "non-ASCII keys are left out of the data and the queries" in report.notes
    left_out = report.missing["log-inputs endpoint (dataset clauses)"]
    # The queries about datasets are left out, not counted as disagreements: the rest all agree.
    assert left_out > 0 and report.total == EXAMPLES - left_out
    assert report.agreement == 1.0, report.to_markdown()
    assert "Queries left out for a missing capability" in report.to_markdown()


@pytest.mark.parametrize(
    ("reported", "profile", "shown"),
    [
        ("3.5.1", "mlflow-3.9", "3.5.1"),
        ("3.17.2", "mlflow-3.17", "3.17.2"),
        ("3.18.0", "mlflow", "3.18.0"),
        ("0.6.0", "mlflow", "0.6.0 (not one runql describes: read as the latest)"),
        ("fasttrack", "mlflow", "fasttrack (not one runql describes: read as the latest)"),
        (None, "mlflow", "not reported (read as the latest)"),
    ],
)
def test_the_profile_is_that_of_the_reported_version(reported: str | None, profile: str, shown: str) -> None:
    from runql.testing.server_check import _profile_of

    class Reporting:
        def version(self) -> str | None:
            return reported

    report = ServerReport("http://server", "mlflow", 0)
    assert _profile_of(Reporting(), report) == profile  # type: ignore[arg-type]
    assert report.capabilities["MLflow version"] == shown
