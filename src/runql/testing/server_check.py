"""A tracking server's search measured against runql's reference evaluator: :func:`check_server`.

The check logs a generated workspace into the server through MLflow's client, in experiments named
``runql-conform-<seed>-...``, and generated experiments beside it; reads back what the server kept (its
run ids, names, users and tags, its experiment ids and times); draws queries about those runs and
experiments and asks the server each one over HTTP, page by page. The reference evaluator answers the
same query over the rows as the server holds them; every disagreement is counted in its category with
the shortest query that shows it. An experiment search cannot name the experiments it searches, so each
one is scoped to the check's own by a clause on their names, ANDed to the drawn filter.

MLflow's client retries a failed request with back-off for minutes and waits on a silent server
indefinitely: for the duration of the check ``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` is ``0`` and
``MLFLOW_HTTP_REQUEST_TIMEOUT`` the timeout asked for, and both are restored afterwards. Credentials
come from MLflow's own environment variables (``MLFLOW_TRACKING_TOKEN``, ``MLFLOW_TRACKING_USERNAME``
and ``MLFLOW_TRACKING_PASSWORD``); the report shows the URI with its password hidden.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import importlib
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from runql.common.optional import require
from runql.common.redact import redact, shown
from runql.errors import QueryError, Severity, StoreError
from runql.language.ast import And, Expr, Or, Query
from runql.language.parser import parse
from runql.model.entities import Experiment, LifecycleStage, Run
from runql.profiles.catalog import get_profile, mlflow_profile_for
from runql.profiles.checker import check
from runql.profiles.compiled import compile_quietly
from runql.testing.kit import examples
from runql.testing.mlflow_oracle import log_run_data, quiet_mlflow, stored_run

__all__ = [
    "CATEGORIES",
    "Disagreement",
    "ServerReport",
    "check_server",
]

CATEGORIES: dict[str, str] = {
    "refused": "refused (4xx) a query the profile accepts",
    "server-error": "server error (5xx)",
    "wrong-rows": "wrong rows (missing, extra or duplicated runs)",
    "wrong-order": "wrong order (the right runs, in another order)",
    "wrong-paging": "wrong page tokens or page sizes",
    "accepted-refused": "accepted a query the profile refuses",
}
"""Each category of disagreement, by the name the report and its JSON give it."""

_VIEWS = ("ACTIVE_ONLY", "ACTIVE_ONLY", "ACTIVE_ONLY", "DELETED_ONLY", "ALL")
_STAGES = {
    "ACTIVE_ONLY": {LifecycleStage.ACTIVE},
    "DELETED_ONLY": {LifecycleStage.DELETED},
    "ALL": {LifecycleStage.ACTIVE, LifecycleStage.DELETED},
}
_ENVIRONMENT = ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT")
# The most pages a paged search is followed for: past it, the server's tokens do not end.
_PAGE_LIMIT = 200


@dataclass
class Disagreement:
    """The shortest query found in one category: what it searched (``runs`` or ``experiments``), its
    text, view, page size, the ids expected and got."""

    filter_string: str
    order_by: list[str]
    view: str
    page_size: int | None
    expected: list[str]
    got: list[str]
    detail: str
    entity: str = "runs"
    # The drawn query the example was asked as (before the scope clause of an experiment search).
    query: Query | None = field(default=None, repr=False, compare=False)

    def size(self) -> tuple[int, int]:
        """What "shortest" compares: the filter's and then the order_by's length."""
        return len(self.filter_string), len(" ".join(self.order_by))

    def to_dict(self) -> dict[str, Any]:
        """The example as JSON-ready values."""
        return {
            "search": self.entity,
            "filter_string": self.filter_string,
            "order_by": self.order_by,
            "view_type": self.view,
            "page_size": self.page_size,
            "expected": self.expected,
            "got": self.got,
            "detail": self.detail,
        }


@dataclass
class ServerReport:
    """What :func:`check_server` measured: queries asked, agreed, left out, and each category's count
    and shortest example."""

    uri: str
    profile: str
    seed: int
    runs: int = 0
    total: int = 0
    agreed: int = 0
    capabilities: dict[str, str] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, Disagreement] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def agreement(self) -> float:
        """The share of queries answered as the reference does, 1.0 when none was asked."""
        return self.agreed / self.total if self.total else 1.0

    def add(
        self,
        category: str | Sequence[str] | None,
        example: Disagreement | Sequence[Disagreement] | None = None,
    ) -> None:
        """Count one query: agreed when ``category`` is None, else a disagreement in that category (or in
        each of several, with an example each), whose example is kept when it is the shortest so far."""
        self.total += 1
        if category is None:
            self.agreed += 1
            return
        categories = [category] if isinstance(category, str) else list(category)
        found = [example] if isinstance(example, Disagreement) else list(example or [])
        for index, name in enumerate(categories):
            self.counts[name] += 1
            kept = self.examples.get(name)
            shown_example = found[index] if index < len(found) else None
            if shown_example is not None and (kept is None or shown_example.size() < kept.size()):
                self.examples[name] = shown_example

    def to_json(self) -> str:
        """The report as JSON, for CI."""
        return json.dumps(
            {
                "uri": self.uri,
                "profile": self.profile,
                "seed": self.seed,
                "runs": self.runs,
                "queries": self.total,
                "agreed": self.agreed,
                "agreement": self.agreement,
                "capabilities": self.capabilities,
                "left_out": self.missing,
                "disagreements": {
                    name: {"count": self.counts[name], "example": self.examples[name].to_dict()}
                    for name in CATEGORIES
                    if self.counts[name]
                },
                "notes": self.notes,
            },
            indent=2,
            ensure_ascii=False,
        )

    def to_markdown(self) -> str:
        """The report as Markdown, for people."""
        lines = [
            f"# runql conform: {self.uri}",
            "",
            f"{self.agreed}/{self.total} queries answered as runql's reference does "
            f"({self.agreement:.2%}), profile `{self.profile}`, seed {self.seed}, {self.runs} runs logged.",
            "",
            "## Capabilities",
            "",
        ]
        lines += [f"- {name}: {value}" for name, value in self.capabilities.items()]
        if self.missing:
            lines += ["", "Queries left out for a missing capability:", ""]
            lines += [f"- {name}: {count}" for name, count in self.missing.items()]
        lines += ["", "## Disagreements", ""]
        if not self.counts:
            lines.append("None.")
        else:
            lines += ["| category | queries |", "| --- | --- |"]
            lines += [
                f"| {CATEGORIES[name]} | {self.counts[name]} |" for name in CATEGORIES if self.counts[name]
            ]
        for name in CATEGORIES:
            example = self.examples.get(name)
            if example is None:
                continue
            lines += [
                "",
                f"### {CATEGORIES[name]}",
                "",
                f"- search: {example.entity}",
                f"- filter_string: `{example.filter_string}`"
                if example.filter_string
                else "- filter_string: none",
                f"- order_by: `{example.order_by}`",
                f"- view type: {example.view}, page size: {example.page_size or 'one page'}",
                f"- expected: {example.expected}",
                f"- got: {example.got}",
                f"- {example.detail}",
            ]
        if self.notes:
            lines += ["", "## Notes", ""]
            lines += [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"


@contextlib.contextmanager
def _http_environment(timeout: float) -> Iterator[None]:
    """No retries and a timeout on every request MLflow's client makes, restored afterwards."""
    saved = {name: os.environ.get(name) for name in _ENVIRONMENT}
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(max(1, round(timeout)))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class _Server:
    """The server as the check sees it: MLflow's client for writes, raw searches for reads."""

    def __init__(self, uri: str, timeout: float) -> None:
        mlflow = require("mlflow", "mlflow", "runql conform")
        rest = importlib.import_module("mlflow.utils.rest_utils")
        tracking = importlib.import_module("mlflow.tracking._tracking_service.utils")
        self.entities = importlib.import_module("mlflow.entities")
        self.client = mlflow.MlflowClient(tracking_uri=uri)
        self._http_request = rest.http_request
        # Credentials as MLflow's client reads them: its environment variables, nothing else.
        self._creds = tracking.get_default_host_creds(uri)
        self.timeout = timeout

    def version(self) -> str | None:
        """The MLflow version the server reports (``GET /version``), None when it reports none."""
        response = self._http_request(
            self._creds, "/version", "GET", max_retries=0, timeout=self.timeout, raise_on_status=False
        )
        text = response.text.strip() if response.status_code == 200 else ""
        return text if text and len(text) < 64 and "\n" not in text else None

    def search(self, body: dict[str, Any], entity: str = "runs") -> tuple[int, Any]:
        """The status and the JSON body (or the text) of one search request of ``entity`` (``runs`` or
        ``experiments``), never retried."""
        response = self._http_request(
            self._creds,
            f"/api/2.0/mlflow/{entity}/search",
            "POST",
            max_retries=0,
            timeout=self.timeout,
            raise_on_status=False,
            json=body,
        )
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, response.text


@dataclass
class _Target:
    """One kind of search the check asks: the rows the server keeps, and what scopes a request to them
    (the experiment ids a run search names; for experiments, a clause on their names)."""

    entity: str  # "runs" or "experiments"
    rows: list[Any]
    scope: dict[str, Any] = field(default_factory=dict)
    scope_filter: str = ""

    @property
    def view_field(self) -> str:
        return "run_view_type" if self.entity == "runs" else "view_type"

    def ids(self, body: dict[str, Any]) -> list[str]:
        # An empty answer may leave the list out, or send null (FastTrackML) in its place.
        if self.entity == "runs":
            return [r["info"]["run_id"] for r in body.get("runs") or []]
        return [e["experiment_id"] for e in body.get("experiments") or []]

    def in_view(self, view: str) -> list[Any]:
        stages = _STAGES[view]
        if self.entity == "runs":
            return [r for r in self.rows if r.info.lifecycle_stage in stages]
        return [e for e in self.rows if e.lifecycle_stage in stages]


def _vocabulary(non_ascii: bool) -> Any:
    from runql.testing.data_strategies import DEFAULT_VOCABULARY

    vocabulary = DEFAULT_VOCABULARY.store_safe()
    if non_ascii:
        return vocabulary
    return replace(
        vocabulary,
        metric_keys=tuple(k for k in vocabulary.metric_keys if k.isascii()),
        param_keys=tuple(k for k in vocabulary.param_keys if k.isascii()),
        tag_keys=tuple(k for k in vocabulary.tag_keys if k.isascii()),
        experiment_tag_keys=tuple(k for k in vocabulary.experiment_tag_keys if k.isascii()),
    )


def _probe(server: _Server, prefix: str, report: ServerReport, created: list[str]) -> tuple[bool, bool]:
    """Log one run in an experiment of its own and try what servers are known to lack."""
    e = server.entities
    experiment_id = server.client.create_experiment(f"{prefix}-probe")
    created.append(experiment_id)
    run_id = server.client.create_run(experiment_id).info.run_id
    try:
        server.client.log_inputs(run_id, datasets=[e.DatasetInput(e.Dataset("probe", "d", "local", "s"), [])])
        inputs = True
    except Exception as error:  # the client raises MlflowException, or requests' errors
        inputs = False
        report.capabilities["log-inputs endpoint"] = f"missing ({shown(str(error))})"
    else:
        report.capabilities["log-inputs endpoint"] = "yes"
    try:
        server.client.log_param(run_id, "café", "1")
        non_ascii = "café" in server.client.get_run(run_id).data.params
    except Exception:  # refused: the keys are left out of the data and the queries
        non_ascii = False
    report.capabilities["non-ASCII keys"] = "yes" if non_ascii else "refused"
    for index in range(2):
        server.client.create_run(experiment_id, start_time=index)
    status, body = server.search({"experiment_ids": [experiment_id]})
    if status == 200 and isinstance(body, dict):
        report.capabilities["default max_results"] = f"returned {len(body.get('runs', []))} of 3 runs"
    else:
        report.capabilities["default max_results"] = f"HTTP {status} without max_results"
    status, body = server.search({"experiment_ids": [experiment_id], "max_results": 1})
    token = body.get("next_page_token") if status == 200 and isinstance(body, dict) else None
    report.capabilities["page token"] = _token_shape(token)
    return inputs, non_ascii


def _token_shape(token: str | None) -> str:
    if not token:
        return "none returned for a page of 1 of 3 runs"
    try:
        decoded = json.loads(base64.b64decode(token))
    except (binascii.Error, ValueError):
        return "opaque"
    return f"base64 JSON with {sorted(decoded)}" if isinstance(decoded, dict) else "base64 JSON"


def _log(server: _Server, prefix: str, generated: Sequence[Run], inputs: bool, created: list[str]) -> _Target:
    """Log ``generated`` into one experiment: the first run is a parent of the second, the last one or
    two are deleted; returns the runs as the server keeps them."""
    experiment_id = server.client.create_experiment(f"{prefix}-runs")
    created.append(experiment_id)
    kept: list[Run] = []
    deleted = {len(generated) - 1} if len(generated) < 6 else {len(generated) - 1, len(generated) - 2}
    for index, run in enumerate(generated):
        info = run.info
        tags = dict(run.data.tags)
        if index == 1 and kept:
            tags["mlflow.parentRunId"] = kept[0].info.run_id
        run_id = server.client.create_run(
            experiment_id, start_time=info.start_time, tags=tags, run_name=info.run_name
        ).info.run_id
        logged_inputs = log_run_data(server.client, server.entities, run_id, run, inputs)
        if index in deleted:
            server.client.delete_run(run_id)
        kept.append(stored_run(server.client.get_run(run_id), run, logged_inputs))
    return _Target("runs", kept, {"experiment_ids": [experiment_id]})


def _log_experiments(
    server: _Server, prefix: str, drawn: Sequence[Experiment], created: list[str]
) -> _Target:
    """Create ``drawn`` as experiments named ``<prefix>-x<index> <name>`` with their tags, the last of
    several deleted; returns them as the server keeps them, scoped by their names."""
    kept: list[Experiment] = []
    for index, experiment in enumerate(drawn):
        # Creation times a millisecond apart at least: a tie would be broken by the experiment id, which
        # runql orders as text and a SQL store as a number.
        time.sleep(0.002)
        experiment_id = server.client.create_experiment(
            f"{prefix}-x{index} {experiment.name}", tags=dict(experiment.tags)
        )
        created.append(experiment_id)
        if index == len(drawn) - 1 and index:
            server.client.delete_experiment(experiment_id)
        stored = server.client.get_experiment(experiment_id)
        kept.append(
            Experiment(
                experiment_id=stored.experiment_id,
                name=stored.name,
                artifact_location=stored.artifact_location,
                lifecycle_stage=stored.lifecycle_stage,
                tags=dict(stored.tags),
                creation_time=stored.creation_time,
                last_update_time=stored.last_update_time,
            )
        )
    return _Target("experiments", kept, scope_filter=f"name LIKE '{prefix}-x%'")


def _accepts(filter_string: str, order_by: Sequence[str], profile: str, entity: str) -> bool:
    try:
        diagnostics = check(filter_string, profile, entity, list(order_by))
    except QueryError:
        return False
    return not any(d.severity is Severity.ERROR for d in diagnostics)


def _message(body: Any) -> str:
    text = body.get("message", "") if isinstance(body, dict) else str(body)
    return shown(str(text))


def _row_faults(expected: list[str], got: list[str]) -> list[tuple[str, str]]:
    """What is wrong with ``got``: its runs (missing, extra, duplicated), and the order of the runs both
    answers hold, each judged on its own so that a dropped run does not hide a wrong order."""
    if got == expected:
        return []
    want, have = Counter(expected), Counter(got)
    faults = []
    if want != have:
        missing = sorted((want - have).elements())
        duplicated = sorted(k for k, n in have.items() if n > 1)
        extra = sorted(k for k in have if k not in want)
        parts = [
            f"{name} {ids}"
            for name, ids in (("missing", missing), ("duplicated", duplicated), ("extra", extra))
            if ids
        ]
        faults.append(("wrong-rows", "; ".join(parts)))
    shared_expected = [k for k in expected if k in have]
    shared_got = list(dict.fromkeys(k for k in got if k in want))
    if shared_expected != shared_got:
        faults.append(("wrong-order", f"the runs both hold, in another order: {shared_got}"))
    return faults


class _Checker:
    """Asks the server the drawn queries about one target and fills the report."""

    def __init__(self, server: _Server, target: _Target, profile: str, report: ServerReport) -> None:
        self.server, self.target, self.profile, self.report = server, target, profile, report

    def filter_string(self, query: Query) -> str:
        """The filter sent: the drawn one, ANDed to the target's scope clause when it has one (in
        parentheses only where the profile has OR, whose precedence they keep)."""
        scope, text = self.target.scope_filter, query.filter_string
        if not scope or not text:
            return scope or text
        grouped = get_profile(self.profile, self.target.entity).allow_or
        return f"{scope} AND ({text})" if grouped else f"{scope} AND {text}"

    def accepts(self, query: Query) -> bool:
        """Whether the profile accepts the query as it is sent."""
        return _accepts(self.filter_string(query), query.order_by_strings, self.profile, self.target.entity)

    def _expected(self, query: Query, view: str) -> list[str]:
        compiled = compile_quietly(
            self.filter_string(query),
            list(query.order_by_strings),
            profile=self.profile,
            entity=self.target.entity,
        )
        page, _ = compiled.search(self.target.in_view(view))
        if self.target.entity == "runs":
            return [r.info.run_id for r in page]
        return [e.experiment_id for e in page]

    def _body(self, query: Query, view: str, max_results: int, token: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            **self.target.scope,
            "filter": self.filter_string(query),
            self.target.view_field: view,
            "max_results": max_results,
        }
        if query.order_by_strings:
            body["order_by"] = list(query.order_by_strings)
        if token:
            body["page_token"] = token
        return body

    def _search(self, body: dict[str, Any]) -> tuple[int, Any]:
        return self.server.search(body, self.target.entity)

    def _example(
        self, query: Query, view: str, size: int | None, expected: list[str], got: list[str], detail: str
    ) -> Disagreement:
        return Disagreement(
            self.filter_string(query),
            list(query.order_by_strings),
            view,
            size,
            expected,
            got,
            detail,
            self.target.entity,
            query,
        )

    def refused(self, query: Query, view: str) -> None:
        """Ask a query the profile refuses: the server should refuse it too (any 4xx)."""
        self._record(self._refusal_faults(query, view))

    def accepted(self, query: Query, view: str, page_size: int) -> None:
        """Ask a query the profile accepts: one page of every row, then pages of ``page_size``."""
        self._record(self._answer_faults(query, view, page_size))

    def _record(self, faults: list[tuple[str, Disagreement]]) -> None:
        if not faults:
            self.report.add(None)
        else:
            self.report.add([name for name, _ in faults], [example for _, example in faults])

    def _refusal_faults(self, query: Query, view: str) -> list[tuple[str, Disagreement]]:
        status, body = self._search(self._body(query, view, 1000, None))
        if status == 200:
            got = self.target.ids(body) if isinstance(body, dict) else []
            detail = "expected a refusal (HTTP 4xx), answered with HTTP 200"
            return [("accepted-refused", self._example(query, view, None, [], got, detail))]
        if status >= 500:
            detail = f"expected a refusal (HTTP 4xx), got HTTP {status}: {_message(body)}"
            return [("server-error", self._example(query, view, None, [], [], detail))]
        return []

    def _answer_faults(self, query: Query, view: str, page_size: int) -> list[tuple[str, Disagreement]]:
        expected = self._expected(query, view)
        status, body = self._search(self._body(query, view, 1000, None))
        failure = self._status(status, body)
        if failure is not None:
            return [(failure[0], self._example(query, view, None, expected, [], failure[1]))]
        got = self.target.ids(body)
        faults = _row_faults(expected, got)
        if faults:
            return [
                (name, self._example(query, view, None, expected, got, detail)) for name, detail in faults
            ]
        if page_size < len(expected) or page_size == 1:
            paging = self._pages(query, view, page_size, expected)
            if paging is not None:
                return [paging]
        return []

    def shrunk(self, category: str, example: Disagreement) -> Disagreement:
        """``example`` made as small as it can be while the server still fails it in ``category`` (with
        runs missing, duplicated or extra still, where it had them): one AND term or one order_by clause
        left out at a time, the query kept as the profile reads it (accepted, or refused for
        ``accepted-refused``), each try asked of the server."""
        query, refused = example.query, category == "accepted-refused"
        if query is None:
            return example
        size = example.page_size or 1000
        shrinking = True
        while shrinking:
            shrinking = False
            for candidate in _smaller(query):
                if self.accepts(candidate) == refused:
                    continue
                if refused:
                    faults = dict(self._refusal_faults(candidate, example.view))
                else:
                    faults = dict(self._answer_faults(candidate, example.view, size))
                found = faults.get(category)
                if found is not None and _row_kinds(found.detail) >= _row_kinds(example.detail):
                    query, example, shrinking = candidate, found, True
                    break
        return example

    def _status(self, status: int, body: Any) -> tuple[str, str] | None:
        if status == 200 and isinstance(body, dict):
            return None
        if 400 <= status < 500:
            return "refused", f"HTTP {status}: {_message(body)}"
        return "server-error", f"HTTP {status}: {_message(body)}"

    def _pages(
        self, query: Query, view: str, size: int, expected: list[str]
    ) -> tuple[str, Disagreement] | None:
        got: list[str] = []
        token: str | None = None
        for _ in range(_PAGE_LIMIT):
            status, body = self._search(self._body(query, view, size, token))
            failure = self._status(status, body)
            if failure is not None:
                return failure[0], self._example(
                    query, view, size, expected, got, f"a later page: {failure[1]}"
                )
            page = self.target.ids(body)
            got += page
            token = body.get("next_page_token") or None
            if len(page) > size:
                detail = f"a page of {len(page)} runs for max_results {size}"
                return "wrong-paging", self._example(query, view, size, expected, got, detail)
            if token is None:
                break
            if not page:
                detail = "an empty page with a next page token"
                return "wrong-paging", self._example(query, view, size, expected, got, detail)
        else:
            detail = f"page tokens still coming after {_PAGE_LIMIT} pages"
            return "wrong-paging", self._example(query, view, size, expected, got, detail)
        if got != expected:
            detail = "the pages joined differ from the one-page answer"
            return "wrong-paging", self._example(query, view, size, expected, got, detail)
        return None


def _row_kinds(detail: str) -> set[str]:
    """Which of the wrong-rows faults (missing, duplicated, extra) a detail names."""
    return {kind for kind in ("missing", "duplicated", "extra") if f"{kind} [" in detail}


def _smaller(query: Query) -> Iterator[Query]:
    """The queries one step smaller than ``query``: each with one term of its top-level AND left out (the
    whole filter when it is one term), or one order_by clause; terms keep the spelling they were written
    with."""
    text, order_by = query.filter_string, list(query.order_by_strings)
    expr = parse(text).filter  # read again: a drawn query's tree may have been built without spans
    if expr is not None:
        terms = list(expr.terms) if isinstance(expr, And) else [expr]
        pieces = [_written(text, term) for term in terms]
        for index in range(len(pieces)):
            yield parse(" AND ".join(pieces[:index] + pieces[index + 1 :]), order_by)
    for index in range(len(order_by)):
        yield parse(text, order_by[:index] + order_by[index + 1 :])


def _written(text: str, term: Expr) -> str:
    """A term of a top-level AND as it was written, in parentheses when it is itself an AND or OR."""
    assert term.span is not None  # a parsed tree has every span
    written = text[term.span.start : term.span.end]
    return f"({written})" if isinstance(term, (And, Or)) else written


def _needs_datasets(query: Query) -> bool:
    return "datasets." in query.filter_string or any("datasets." in o for o in query.order_by_strings)


def check_server(
    uri: str,
    *,
    profile: str | None = None,
    max_examples: int = 100,
    seed: int = 0,
    keep: bool = False,
    page_sizes: Sequence[int] = (1, 2, 3, 1000),
    timeout: float = 30.0,
    refused_share: float = 0.2,
    experiment_share: float = 0.2,
) -> ServerReport:
    """Measure the tracking server at ``uri`` against runql's reference evaluator under ``profile``, by
    default the profile of the MLflow version the server reports (``GET /version``: ``mlflow-3.17`` for
    3.17.2), else ``mlflow``.

    Logs a generated workspace and generated experiments, named ``runql-conform-<seed>-...`` (deleted
    afterwards unless ``keep``), probes what the server can store, asks ``max_examples`` queries drawn
    with ``seed`` (``experiment_share`` of them experiment searches, the rest run searches; about
    ``refused_share`` of each ones the profile refuses, which the server should refuse too), each as one
    page and as pages of a size from ``page_sizes`` followed to the end, and returns the
    :class:`ServerReport`. Needs MLflow's client (``runql[mlflow]``) and hypothesis
    (``runql[strategies]``). Every request has ``timeout`` seconds and none is retried.
    """
    from runql.testing.data_strategies import experiments as generated_experiments
    from runql.testing.data_strategies import runs as generated_runs

    report = ServerReport(redact(uri), profile or "mlflow", seed)
    report.notes.append(
        "data and queries use the store-safe vocabulary (Vocabulary.store_safe): MLflow's SQL store answers "
        "newlines under LIKE, non-ASCII case-folding and infinite metrics otherwise than its in-memory "
        "search, which runql's reference follows (docs/compatibility.md)"
    )
    # A suffix of its own per check: a deleted experiment keeps its name taken in MLflow's stores.
    prefix = f"runql-conform-{seed}-{uuid.uuid4().hex[:8]}"
    with _http_environment(timeout), quiet_mlflow():
        server = _Server(uri, timeout)
        created: list[str] = []
        try:
            try:
                chosen = _profile_of(server, report)
                if profile is None:
                    report.profile = chosen
                    report.notes.append(f"profile {chosen} chosen for the server's MLflow version")
                inputs, non_ascii = _probe(server, prefix, report, created)
                vocabulary = _vocabulary(non_ascii)
                if not non_ascii:
                    report.notes.append("non-ASCII keys are left out of the data and the queries")
                (generated,) = examples(generated_runs(vocabulary, min_size=8, max_size=12), 1, seed)
                runs = _log(server, prefix, generated, inputs, created)
                (drawn,) = examples(generated_experiments(vocabulary, min_size=3, max_size=5), 1, seed)
                experiments = _log_experiments(server, prefix, drawn, created)
            except Exception as error:  # MLflow's client raises MlflowException, requests' errors and more
                # Nothing can be measured without the data: one line naming the server, its password hidden.
                code = "unreachable-store" if not created else "server-refused"
                what = "could not be reached" if not created else "refused to store the generated data"
                message = f"{what}: {shown(redact(str(error), uri))}"
                raise StoreError(message, where=redact(uri), code=code) from None
            report.runs = len(runs.rows)
            profile = report.profile
            experiment_count = round(max_examples * experiment_share)
            skipped = 0
            for target, count in ((runs, max_examples - experiment_count), (experiments, experiment_count)):
                checker = _Checker(server, target, profile, report)
                skipped += _ask(
                    checker, vocabulary, count, round(count * refused_share), seed, page_sizes, inputs
                )
            if skipped:
                report.missing["log-inputs endpoint (dataset clauses)"] = skipped
            for name, example in list(report.examples.items()):
                checker = _Checker(server, runs if example.entity == "runs" else experiments, profile, report)
                report.examples[name] = checker.shrunk(name, example)
        finally:
            if not keep:
                for experiment_id in created:
                    with contextlib.suppress(Exception):  # a failed clean-up leaves names a person recognises
                        server.client.delete_experiment(experiment_id)
    return report


def _profile_of(server: _Server, report: ServerReport) -> str:
    """The profile of the MLflow version the server reports (``GET /version``), its answer kept in the
    report; ``mlflow`` when it reports no version runql describes (a server of its own may report its
    own version there)."""
    version = server.version()
    try:
        chosen = mlflow_profile_for(version).name if version else "mlflow"
    except ValueError:  # not a version, or one before 2.0
        report.capabilities["MLflow version"] = f"{version} (not one runql describes: read as the latest)"
        return "mlflow"
    report.capabilities["MLflow version"] = version or "not reported (read as the latest)"
    return chosen


def _ask(
    checker: _Checker,
    vocabulary: Any,
    count: int,
    refused_count: int,
    seed: int,
    page_sizes: Sequence[int],
    inputs: bool,
) -> int:
    """Ask ``count`` drawn queries about the checker's target, ``refused_count`` of them ones the profile
    refuses; returns how many were left out for want of the log-inputs endpoint."""
    from hypothesis import strategies as st

    from runql.testing.query_strategies import queries

    profile, target = checker.profile, checker.target
    valid = queries(profile, target.entity, vocabulary, target.rows).filter(checker.accepts)
    invalid = queries(profile, target.entity, vocabulary, target.rows, valid=False).filter(
        lambda q: not checker.accepts(q)
    )
    answered = count - refused_count
    views_and_sizes = (st.sampled_from(_VIEWS), st.sampled_from(list(page_sizes)))
    drawn = examples(st.tuples(valid, *views_and_sizes), answered, seed) if answered > 0 else []
    skipped = 0
    for query, view, size in drawn:
        if not inputs and _needs_datasets(query):
            skipped += 1
            continue
        checker.accepted(query, view, size)
    if refused_count:
        for query, view in examples(st.tuples(invalid, st.sampled_from(_VIEWS)), refused_count, seed):
            checker.refused(query, view)
    return skipped
