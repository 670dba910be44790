"""A read-only store over a tracking server that pushes down what the server accepts.

``runql.connect("http://host:5000")`` (or any MLflow tracking URI: ``databricks``, ``azureml://...``)
answers the read calls of a :class:`~runql.stores.base.RunStore` through ``mlflow.MlflowClient``. A run
search is planned (:mod:`runql.engines.planner`): the server is sent the part of the filter and the
order_by its language accepts, runql evaluates the rest on the runs it returns, and sorts and pages
locally when the server cannot sort by the keys asked for. When the server sorts, runql stops reading
its pages as soon as the page asked for is complete, and the next page's token says where it stopped
(the server's token and how many runs of that server page were read), so each page goes on from there.
Metric histories are read from the server when asked for, never replaced by the latest value.

A server is not trusted to behave: every call of the store has a deadline (:data:`DEADLINE`), a page
token the server sends twice or pages that never end stop the search
(:class:`~runql.sources.mlflow_client.PageTokens`), a run or experiment a server repeats is kept once,
and a reply MLflow's client cannot parse is a :class:`~runql.StoreError` naming what was wrong
(docs/security.md).
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import functools
import hashlib
import json
import math
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

from runql.common.optional import require
from runql.common.redact import redact
from runql.engines.logged_models import LoggedModelSearch
from runql.engines.planner import Plan, answered_by_server, plan
from runql.engines.registry import asks_for_prompts
from runql.errors import ArgumentError, NotFoundError, StoreError
from runql.language.ast import Compare, Entity, Key, Literal, Op
from runql.model.arguments import experiment_number, warn_at_caller
from runql.model.entities import Experiment, Metric, Run, StoredHistories, ViewType
from runql.model.logged_models import LoggedModel, logged_model_from_entity
from runql.model.paging import paginate, parse_page_token
from runql.model.records import experiment_from_record, run_from_record
from runql.model.registry import (
    PROMPT_TAG,
    PagedList,
    Registry,
    model_version_from_entity,
    registered_model_from_entity,
)
from runql.profiles.catalog import Profile
from runql.profiles.compiled import CompiledQuery, OrderBy, compile_quietly
from runql.sources.base import url_scheme
from runql.sources.mlflow_client import (
    Listing,
    PageTokens,
    client_logged_models,
    client_registry,
    history_points,
    quoted,
    unreadable,
    unreadable_replies,
)
from runql.sources.schemes import scheme_kind
from runql.stores.base import Page, RunStore

__all__ = ["DEADLINE", "ServerStore"]

# Runs per request while runql reads a server's answer itself: what every server accepts (Databricks
# caps pages at 1000, Azure ML metric histories below 1000).
SERVER_PAGE = 1000

DEADLINE = 120.0
"""Seconds one call of a :class:`ServerStore` may take by default, every request it makes included (a
store is given its own with ``ServerStore(uri, deadline=...)``, or ``store.deadline = ...`` on a store
``runql.connect`` opened). It is MLflow's own timeout for one request (``MLFLOW_HTTP_REQUEST_TIMEOUT``),
so whatever MLflow would answer in one request is never cut short."""

# A server that does not answer its health check within this many seconds (or the store's deadline,
# when shorter) is reported unreachable, instead of waiting out MLflow's client retries (minutes).
_PROBE_SECONDS = 10

# The longest server page token a runql token may carry: servers' tokens are a few hundred characters.
_MAX_SERVER_TOKEN = 4096


def is_server_uri(uri: str) -> bool:
    """Whether ``uri`` names a tracking server, as the table of schemes says
    (:func:`runql.sources.schemes.scheme_kind`)."""
    return scheme_kind(uri) == "mlflow"


class _Deadline:
    """When one call of the store must be done by: ``seconds`` from its start (None: no deadline)."""

    __slots__ = ("at", "seconds")

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.at = None if seconds is None else time.monotonic() + seconds

    def left(self) -> float | None:
        """Seconds left (0 or less once passed); None without a deadline."""
        return None if self.at is None else self.at - time.monotonic()


@dataclass(frozen=True)
class _Position:
    """Where reading the server's answer goes on: at run ``skip`` of the server page asked for with
    ``token`` (None: the first page)."""

    token: str | None
    skip: int


_START = _Position(None, 0)


def _read_as_another(experiment_id: str) -> bool:
    """Whether a server would take ``experiment_id`` for an id spelled otherwise (``"٧"``, ``"07"``,
    ``" 7"`` for 7; past BIGINT): such an id names no experiment and is never sent, so a deny-list of ids
    in front of the server cannot be got round. An id that is no number at all is sent, for the server
    to refuse as MLflow does."""
    if experiment_number(experiment_id) is not None:
        return False
    try:
        int(experiment_id)
    except ValueError:
        return False
    return True


class ServerStore(RunStore[Plan, _Deadline]):
    """The read calls of a :class:`~runql.stores.base.RunStore`, answered by a tracking server with
    runql's planner.

    ``target`` is the profile of what the server accepts (``mlflow``; ``azureml`` for ``azureml://``
    URIs); ``profile`` the language the store's searches are written in (the target's by default;
    ``extended`` for OR, NOT and parentheses against any server). ``client`` is an object with
    ``MlflowClient``'s methods, for a server reached otherwise; by default MLflow's client.
    ``deadline`` is the seconds one call may take (:attr:`deadline`; None: no deadline).
    """

    def __init__(
        self,
        tracking_uri: str,
        *,
        target: str | Profile | None = None,
        profile: str | Profile | None = None,
        client: Any = None,
        deadline: float | None = DEADLINE,
    ) -> None:
        self.where = redact(tracking_uri)
        self._uri = tracking_uri  # may hold a token: only ever shown through redact()
        self.target: str | Profile = target or ("azureml" if tracking_uri.startswith("azureml") else "mlflow")
        self.profile = profile or (self.target if isinstance(self.target, str) else self.target.name)
        self.deadline = deadline
        self.fetched = 0
        """How many runs the server has returned to this store's searches (its traffic)."""
        if client is None:
            mlflow = require("mlflow", "mlflow", "searching runs on a tracking server")
            if url_scheme(tracking_uri) in ("http", "https"):
                self._probe(tracking_uri)
            client = mlflow.MlflowClient(tracking_uri=tracking_uri)
        self.client = client
        self._refusals = _refusals()

    def __repr__(self) -> str:
        return f"ServerStore({self.where!r}, target={self.target!r})"

    @property
    def deadline(self) -> float | None:
        """Seconds one call of the store (a search, with every page it reads; a run; a history) may
        take before it stops with a :class:`~runql.StoreError` (``server-timeout``); None or infinity:
        no deadline. Defaults to :data:`DEADLINE`; may be set on an open store. A request the deadline
        cut short goes on in the background until MLflow's client gives up on it
        (``MLFLOW_HTTP_REQUEST_TIMEOUT`` and ``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` bound that)."""
        return self._deadline

    @deadline.setter
    def deadline(self, seconds: float | None) -> None:
        """Set the deadline: a positive number of seconds, or None or infinity for none; anything else
        is a ValueError."""
        if seconds is not None and (
            isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0
        ):
            raise ValueError(f"a deadline is a positive number of seconds, or None; not {seconds!r:.80}")
        self._deadline = None if seconds is None or math.isinf(seconds) else float(seconds)

    def _probe(self, tracking_uri: str) -> None:
        url, headers = _without_userinfo(f"{tracking_uri.rstrip('/')}/health")
        seconds = _PROBE_SECONDS if self.deadline is None else min(_PROBE_SECONDS, self.deadline)
        try:
            urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=seconds).close()
        except urllib.error.HTTPError:
            pass  # it answered: a server without a health endpoint is still there
        except (OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            message = redact(f"the tracking server does not answer: {reason}", tracking_uri)
            raise StoreError(message, where=self.where, code="unreachable-store") from None

    @contextmanager
    def _asking(self) -> Iterator[None]:
        """The server's refusals and failures as one-line StoreErrors quoting its message. Anything
        else a call raises is runql's own fault, and goes up as it is."""
        try:
            yield
        except self._refusals as error:
            if getattr(error, "error_code", None) == "RESOURCE_DOES_NOT_EXIST":
                raise NotFoundError(quoted(error, self._uri)) from None
            raise StoreError(quoted(error, self._uri), where=self.where, code="server-refused") from None
        except unreadable_replies() as error:
            raise unreadable(error, self.where, self._uri) from None
        except OSError as error:  # requests' errors are OSErrors: a connection lost or timed out
            raise StoreError(quoted(error, self._uri), where=self.where, code="unreachable-store") from None

    def _ask(self, deadline: _Deadline, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``call(*args, **kwargs)`` of the client, given what is left of ``deadline``; its failures as
        :meth:`_asking` says.

        MLflow's client has no timeout of its own to pass (its settings are environment variables of
        the whole process), so with a deadline the call runs in a thread of its own, which is left to
        finish in the background when the deadline passes.
        """
        with self._asking():
            left = deadline.left()
            if left is None:
                return call(*args, **kwargs)
            outcome: list[tuple[bool, Any]] = []
            done = threading.Event()
            # The caller's context (MLflow keeps a workspace in a context variable) goes with the call.
            context = contextvars.copy_context()

            def run() -> None:
                try:
                    outcome.append((True, context.run(call, *args, **kwargs)))
                except BaseException as error:  # handed to the caller, who raises it
                    outcome.append((False, error))
                finally:
                    done.set()

            if left > 0:
                threading.Thread(target=run, name="runql-server-call", daemon=True).start()
            if left <= 0 or not done.wait(left):
                raise StoreError(
                    f"the tracking server gave no complete answer within the store's deadline of "
                    f"{deadline.seconds:g} s (ServerStore(..., deadline=seconds), or store.deadline)",
                    where=self.where,
                    code="server-timeout",
                )
            answered, value = outcome[0]
            if not answered:
                raise value
            return value

    # -- experiments

    @property
    def experiments(self) -> list[Experiment]:
        return self._experiments(_Deadline(self.deadline))

    def _experiments_in(self, reading: _Deadline) -> list[Experiment]:
        return self._experiments(reading)

    def _experiments(self, deadline: _Deadline) -> list[Experiment]:
        found: dict[str, Experiment] = {}
        tokens = PageTokens("experiments", self.where)
        token = None
        while True:
            page = self._ask(
                deadline,
                self.client.search_experiments,
                view_type=int(ViewType.ALL),
                max_results=SERVER_PAGE,
                page_token=token,
            )
            for entity in page:
                experiment = experiment_from_record(entity)
                # A server that sends an experiment twice has it once.
                found.setdefault(experiment.experiment_id, experiment)
            token = tokens.follow(page.token)
            if token is None:
                return list(found.values())

    def _registry(self) -> Registry:
        return client_registry(self.client, self._listing(_Deadline(self.deadline)))

    def _logged_models(self, experiment_ids: Sequence[str]) -> list[LoggedModel]:
        return client_logged_models(self.client, self._listing(_Deadline(self.deadline)), experiment_ids)

    def _logged_page(self, search: LoggedModelSearch) -> PagedList:
        # MLflow's server answers a search in MLflow's own language as runql would (its SQL store), a page
        # at a time: it is sent whole. Beyond it, every model of the experiments is read and searched here;
        # so is a search with a dataset named without a digest, which MLflow's server reads as a dataset
        # without one (docs/compatibility.md, logged-server-datasets).
        digests = all(d.has_digest and d.digest for d in search.datasets)
        if not (answered_by_server(search.query, self.target) and digests):
            return super()._logged_page(search)
        datasets = [{"dataset_name": d.name, "dataset_digest": d.digest} for d in search.datasets]
        page = self._ask(
            _Deadline(self.deadline),
            self.client.search_logged_models,
            experiment_ids=search.experiment_ids,
            filter_string=search.filter_string or None,  # "" would not match its own page token there
            datasets=datasets or None,
            max_results=search.size,
            order_by=list(search.order_by) if search.order_by else None,
            page_token=search.token or None,
        )
        return PagedList([logged_model_from_entity(m) for m in page], page.token or None)

    def get_logged_model(self, model_id: str) -> LoggedModel:
        return logged_model_from_entity(
            self._ask(_Deadline(self.deadline), self.client.get_logged_model, model_id)
        )

    def _model_page(
        self, compiled: CompiledQuery, size: int, page_token: str | bytes | None, prompts: bool
    ) -> PagedList:
        # A search in MLflow's own language is sent whole: the server answers it with its store, page by
        # page. Prompts (as MLflow's entity hides their tag) and the other profiles are searched here.
        if prompts or size == 0 or not answered_by_server(compiled, self.target):
            return super()._model_page(compiled, size, page_token, prompts)
        page = self._registry_search(self.client.search_registered_models, compiled, size, page_token)
        found = [registered_model_from_entity(m) for m in page]
        if asks_for_prompts(compiled.query.filter):
            for model in found:  # the filter asked for prompts: what it finds is one
                model.tags[PROMPT_TAG] = "true"
        return PagedList(found, page.token or None)  # the REST API sends "" after the last page

    def _version_page(self, compiled: CompiledQuery, size: int, page_token: str | bytes | None) -> PagedList:
        if not answered_by_server(compiled, self.target):
            return super()._version_page(compiled, size, page_token)
        page = self._registry_search(self.client.search_model_versions, compiled, size, page_token)
        return PagedList([model_version_from_entity(v) for v in page], page.token or None)

    def _registry_search(
        self, search: Callable[..., Any], compiled: CompiledQuery, size: int, page_token: str | bytes | None
    ) -> Any:
        token = page_token.decode("ascii", "replace") if isinstance(page_token, bytes) else page_token
        parse_page_token(token)  # a bad token is refused here, as the stores refuse it
        query = compiled.query
        return self._ask(
            _Deadline(self.deadline),
            search,
            filter_string=query.filter_string or None,
            max_results=size,
            order_by=list(query.order_by_strings) or None,
            page_token=token or None,
        )

    def _listing(self, deadline: _Deadline) -> Listing:
        """How the server's models are listed within ``deadline``."""
        return functools.partial(self._listed, deadline)

    def _listed(
        self,
        deadline: _Deadline,
        what: str,
        search: Callable[..., Any],
        filter_string: str | None,
        size: int,
        **scope: Any,
    ) -> list[Any]:
        """Every item a paged search of the server's models returns."""
        found: list[Any] = []
        tokens = PageTokens(what, self.where)
        token = None
        while True:
            page = self._ask(
                deadline, search, filter_string=filter_string, max_results=size, page_token=token, **scope
            )
            found.extend(page)
            token = tokens.follow(page.token)
            if token is None:
                return found

    def get_experiment(self, experiment_id: str | int) -> Experiment:
        found = self._ask(_Deadline(self.deadline), self.client.get_experiment, str(experiment_id))
        return experiment_from_record(found)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        found = self._ask(_Deadline(self.deadline), self.client.get_experiment_by_name, name)
        return None if found is None else experiment_from_record(found)

    # -- runs

    def _run(self, entity: Any) -> Run:
        run = run_from_record(entity)
        # A search result holds the latest point of each metric only: the history stays on the server.
        run.data.histories.clear()
        run.data.stored = StoredHistories(self, run.info.run_id)
        return run

    def get_run(self, run_id: str) -> Run:
        return self._run(self._ask(_Deadline(self.deadline), self.client.get_run, run_id))

    def key_sets(self, experiment_ids: Iterable[str], lifecycle_stages: Iterable[str]) -> None:
        # A server cannot tell which keys its runs have without sending every run.
        del experiment_ids, lifecycle_stages

    def run_ids_starting(self, prefix: str, limit: int = 6) -> list[str]:
        deadline = _Deadline(self.deadline)
        # Run ids are letters and digits: another prefix starts none (and needs no escape in LIKE).
        experiment_ids = [e.experiment_id for e in self._experiments(deadline)] if prefix.isalnum() else []
        if not experiment_ids:
            return []
        starting = Compare(Key(Entity.ATTRIBUTE, "run_id"), Op.LIKE, Literal(f"{prefix}%"))
        found = plan(starting, target=self.target, profile="extended")
        runs = self._selected(deadline, experiment_ids, found, int(ViewType.ALL), limit)
        return [run.info.run_id for run in runs[:limit]]

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        points = self.history(run_id, key)
        if not points:
            # A server answers an unknown run with no points: asking for the run tells which it is.
            self.get_run(run_id)
        return points

    def history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of metric ``key`` of run ``run_id``, as the server's ``get_metric_history`` sends
        them; empty for a run without the metric and, unlike :meth:`get_metric_history`, for an unknown
        run."""
        deadline = _Deadline(self.deadline)
        return history_points(self.client, run_id, key, self.where, functools.partial(self._ask, deadline))

    def histories(
        self, run_ids: Sequence[str], keys: Collection[str] | None = None
    ) -> dict[str, dict[str, list[Metric]]]:
        """Every point of the metrics ``keys`` (None: of every metric the run has) of the runs ``run_ids``,
        by run id and key (runs without points left out): one request per run and metric."""
        found: dict[str, dict[str, list[Metric]]] = {}
        for run_id in run_ids:
            # Named keys are asked for directly: a run without one answers with no points.
            wanted = self.get_run(run_id).data.metrics if keys is None else keys
            points = {key: history for key in wanted if (history := self.history(run_id, key))}
            if points:
                found[run_id] = points
        return found

    def _prepare(self, filter_string: str | None, order_by: OrderBy, profile: str | Profile | None) -> Plan:
        found = plan(filter_string, order_by, target=self.target, profile=profile or self.profile)
        warn_at_caller(found.query.warnings)
        return found

    def _compiled(self, query: Plan) -> CompiledQuery:
        return query.query

    def _reading(self) -> AbstractContextManager[_Deadline]:
        # Each request stands alone (a server keeps no transaction open across a search); the search's
        # deadline spans them all.
        return nullcontext(_Deadline(self.deadline))

    def _fetch(
        self,
        deadline: _Deadline,
        experiment_ids: list[str],
        found: Plan,
        view: int,
        size: int,
        token: str | None,
    ) -> tuple[list[Run], str | None]:
        """One page of the server's answer to the pushed part: at most ``size`` runs from ``token``."""
        page = self._ask(
            deadline,
            self.client.search_runs,
            experiment_ids,
            found.pushed_filter,
            run_view_type=view,
            max_results=size,
            order_by=list(found.pushed_order_by) or None,
            page_token=token,
        )
        self.fetched += len(page)
        return [self._run(r) for r in page], page.token or None

    def _scan(
        self,
        deadline: _Deadline,
        experiment_ids: list[str],
        found: Plan,
        view: int,
        start: _Position,
        wanted: int | None,
        more: bool,
    ) -> tuple[list[Run], _Position | None]:
        """The runs the whole query selects, in the server's order, from ``start``: every one (``wanted``
        None) or the first ``wanted``. With ``more``, also where the next one selected is (None when
        none is); without, the position is None. A run the server sends twice is taken once.

        The server is asked for what the answer still needs, scaled by the share of runs the residual
        filter has kept so far (twice the last request while it has kept none), up to
        :data:`SERVER_PAGE`. The first request stops where the page would be complete if every run
        were kept, so a page that fills there leaves the next page a position at the start of a
        server page, and the next page reads on from it instead of reading that server page again.
        """
        if wanted == 0 and not more:
            return [], None
        test = (
            None if found.residual is None else compile_quietly(found.residual, profile="extended").predicate
        )
        selected: list[Run] = []
        seen: set[str] = set()
        tokens = PageTokens("runs", self.where, first=start.token)
        token, skip = start.token, start.skip
        size = SERVER_PAGE if wanted is None else min(SERVER_PAGE, skip + max(wanted, 1))
        tested = 0
        while True:
            runs, next_token = self._fetch(deadline, experiment_ids, found, view, size, token)
            for index in range(skip, len(runs)):
                run = runs[index]
                if run.info.run_id in seen:
                    continue
                seen.add(run.info.run_id)
                tested += 1
                if test is not None and not test(run):
                    continue
                if wanted is not None and len(selected) == wanted:
                    return selected, _Position(token, index)
                selected.append(run)
                if not more and len(selected) == wanted:
                    return selected, None
            token, skip = tokens.follow(next_token), 0
            if token is None:
                return selected, None
            if wanted is not None:
                needed = wanted - len(selected) + (1 if more else 0)
                estimate = math.ceil(needed * tested / len(selected)) if selected else 2 * size
                size = min(SERVER_PAGE, max(estimate, 1))

    def _selected(
        self, deadline: _Deadline, experiment_ids: list[str], found: Plan, view: int, wanted: int | None
    ) -> list[Run]:
        """The first ``wanted`` runs (None: all) the whole query selects, in its order: read until
        complete when the server sorts, else every run it selects, sorted here."""
        if found.server_sorts:
            return self._scan(deadline, experiment_ids, found, view, _START, wanted, more=False)[0]
        runs = self._scan(deadline, experiment_ids, found, view, _START, None, more=False)[0]
        runs.sort(key=found.query.sort_key)
        return runs

    def _page(
        self,
        reading: _Deadline,
        query: Plan,
        experiment_ids: list[str],
        view: ViewType,
        page_token: str | bytes | None,
        size: int | None,
        paged: bool,
    ) -> Page:
        experiment_ids = [i for i in experiment_ids if not _read_as_another(i)]
        if not experiment_ids:
            return Page([], None)
        if not paged:
            # The fluent search wants no token: its first `size` runs, however they are found.
            return Page(self._selected(reading, experiment_ids, query, int(view), size), None)
        if query.server_pages:
            # The server selects and sorts exactly: the page and its token are the server's own.
            token = _text_token(page_token) or None
            if size is None:
                runs = self._scan(
                    reading, experiment_ids, query, int(view), _Position(token, 0), None, False
                )[0]
                return Page(runs, None)
            runs, next_token = self._fetch(reading, experiment_ids, query, int(view), size, token)
            PageTokens("runs", self.where, first=token).follow(next_token)
            return Page(_unique(runs), next_token)
        if query.server_sorts:
            search = _search_digest(experiment_ids, query, view)
            start = _parse_position(page_token, search)
            runs, after = self._scan(reading, experiment_ids, query, int(view), start, size, more=True)
            return Page(runs, None if after is None else _position_token(after, search))
        # Sorted here: every run the server selects is read and sorted, and the page cut from them.
        return Page(
            *paginate(self._selected(reading, experiment_ids, query, int(view), None), page_token, size)
        )


def _unique(runs: list[Run]) -> list[Run]:
    """``runs`` with a run the server sent twice kept once, where it came first."""
    seen: set[str] = set()
    kept = []
    for run in runs:
        if run.info.run_id not in seen:
            seen.add(run.info.run_id)
            kept.append(run)
    return kept


def _without_userinfo(url: str) -> tuple[str, dict[str, str]]:
    """``url`` without its ``user:password@``, and the HTTP Basic authorization header that carries them
    instead, as MLflow's client (through ``requests``) sends a URL's credentials. A URL without them is
    returned as it is, with no header."""
    parts = urllib.parse.urlsplit(url)
    # The userinfo runs to the last '@' of the authority, as urllib and requests read it.
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at:
        return url, {}
    user, _, password = userinfo.partition(":")
    pair = f"{urllib.parse.unquote(user)}:{urllib.parse.unquote(password)}".encode()
    header = "Basic " + base64.b64encode(pair).decode("ascii")
    return urllib.parse.urlunsplit(parts._replace(netloc=host)), {"Authorization": header}


# -- the token of a page runql cut from a server's sorted answer --------------------------------------


def _text_token(page_token: str | bytes | None) -> str:
    if isinstance(page_token, bytes):
        try:
            return page_token.decode("ascii")
        except UnicodeDecodeError:
            raise _bad_token("Invalid page token, not ASCII", repr(page_token[:200])) from None
    return page_token or ""


def _search_digest(experiment_ids: list[str], query: Plan, view: ViewType) -> str:
    """What a position token is for: the experiments, view, pushed part and residual of one search."""
    what = [
        experiment_ids,
        int(view),
        query.pushed_filter,
        list(query.pushed_order_by),
        query.residual_filter,
    ]
    return hashlib.sha256(json.dumps(what).encode("utf-8")).hexdigest()[:16]


def _position_token(position: _Position, search: str) -> str:
    body = {"server": position.token, "skip": position.skip, "search": search}
    return base64.b64encode(json.dumps(body).encode("utf-8")).decode("ascii")


def _parse_position(page_token: str | bytes | None, search: str) -> _Position:
    """Where a page goes on, from the token the previous page returned (empty: the first page).

    The token is checked whole: base64 of ``{"server": <the server's token or null>, "skip": <runs of
    that server page already read>, "search": <what it is for>}``, with a skip within a server page and
    the digest of this very search, so a token made by hand, or one of another search, is an
    ``ArgumentError`` (``bad-page-token``); the server's token inside it is read by the server, which
    refuses one it did not make.
    """
    text = _text_token(page_token)
    if not text:
        return _START
    try:
        body = json.loads(base64.b64decode(text, validate=True))
    except (ValueError, binascii.Error, RecursionError):  # RecursionError: deeply nested JSON
        raise _bad_token("Invalid page token, not one a page of this store returned", text) from None
    if not isinstance(body, dict) or set(body) != {"server", "skip", "search"}:
        raise _bad_token("Invalid page token, not one a page of this store returned", text)
    server, skip = body["server"], body["skip"]
    if server is not None and not (isinstance(server, str) and 0 < len(server) <= _MAX_SERVER_TOKEN):
        raise _bad_token("Invalid page token, its server token is not one", text)
    if type(skip) is not int or not 0 <= skip < SERVER_PAGE:
        raise _bad_token(f"Invalid page token, {skip!r:.40} runs cannot have been read of a page", text)
    if body["search"] != search:
        raise _bad_token("Invalid page token, it continues another search", text)
    return _Position(server, skip)


def _bad_token(message: str, text: str) -> ArgumentError:
    return ArgumentError(
        message,
        code="bad-page-token",
        source=text,
        where="page_token",
        hint="pass the next_page_token of the previous page of the same search unchanged, or None for the "
        "first page",
    )


def _refusals() -> tuple[type[BaseException], ...]:
    """What MLflow's client raises when a server refuses a request, or cannot be reached after its
    retries: ``MlflowException`` (its ``RestException`` among them). A client of one's own without
    MLflow installed raises none of them."""
    try:
        from mlflow.exceptions import MlflowException
    except ImportError:
        return ()
    return (MlflowException,)
