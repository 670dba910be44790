"""A read-only store over a tracking server that pushes down what the server accepts.

``runql.connect("http://host:5000")`` (or any MLflow tracking URI: ``databricks``, ``azureml://...``)
answers the read calls of a :class:`~runql.stores.base.RunStore` through ``mlflow.MlflowClient``. A run
search is planned (:mod:`runql.engines.planner`): the server is sent the part of the filter and the
order_by its language accepts, runql evaluates the rest on the runs it returns, and sorts and pages
locally when the server cannot sort by the keys asked for. When the server sorts, runql stops reading
its pages as soon as the page asked for is complete. Metric histories are read from the server when
asked for, never replaced by the latest value.
"""

from __future__ import annotations

import itertools
import urllib.error
import urllib.request
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from runql.common.optional import require
from runql.common.redact import redact
from runql.engines.planner import Plan, plan
from runql.errors import NotFoundError, StoreError
from runql.language.ast import Compare, Entity, Key, Literal, Op
from runql.model.arguments import warn_at_caller
from runql.model.paging import paginate, parse_page_token
from runql.model.records import (
    Experiment,
    Metric,
    Run,
    StoredHistories,
    ViewType,
    experiment_from_record,
    run_from_record,
)
from runql.profiles.catalog import Profile
from runql.profiles.compiled import CompiledQuery, OrderBy, compile_quietly
from runql.sources.base import url_scheme
from runql.sources.schemes import scheme_kind
from runql.stores.base import Page, RunStore

__all__ = ["ServerStore"]

# Runs per request while runql reads a server's answer itself: what every server accepts (Databricks
# caps pages at 1000, Azure ML metric histories below 1000).
SERVER_PAGE = 1000
# A server that does not answer its health check within this many seconds is reported unreachable,
# instead of waiting out MLflow's client retries (minutes).
_PROBE_SECONDS = 10


def is_server_uri(uri: str) -> bool:
    """Whether ``uri`` names a tracking server, as the table of schemes says
    (:func:`runql.sources.schemes.scheme_kind`)."""
    return scheme_kind(uri) == "mlflow"


class ServerStore(RunStore[Plan, None]):
    """The read calls of a :class:`~runql.stores.base.RunStore`, answered by a tracking server with
    runql's planner.

    ``target`` is the profile of what the server accepts (``mlflow``; ``azureml`` for ``azureml://``
    URIs); ``profile`` the language the store's searches are written in (the target's by default;
    ``extended`` for OR, NOT and parentheses against any server). ``client`` is an object with
    ``MlflowClient``'s methods, for a server reached otherwise; by default MLflow's client.
    """

    def __init__(
        self,
        tracking_uri: str,
        *,
        target: str | Profile | None = None,
        profile: str | Profile | None = None,
        client: Any = None,
    ) -> None:
        self.where = redact(tracking_uri)
        self._uri = tracking_uri  # may hold a token: only ever shown through redact()
        self.target: str | Profile = target or ("azureml" if tracking_uri.startswith("azureml") else "mlflow")
        self.profile = profile or (self.target if isinstance(self.target, str) else self.target.name)
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

    def _probe(self, tracking_uri: str) -> None:
        try:
            urllib.request.urlopen(f"{tracking_uri.rstrip('/')}/health", timeout=_PROBE_SECONDS).close()
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
                raise NotFoundError(_first_line(error)) from None
            message = redact(_first_line(error), self._uri)
            raise StoreError(message, where=self.where, code="server-refused") from None
        except OSError as error:  # requests' errors are OSErrors: a connection lost or timed out
            message = redact(_first_line(error), self._uri)
            raise StoreError(message, where=self.where, code="unreachable-store") from None

    # -- experiments

    @property
    def experiments(self) -> list[Experiment]:
        found: list[Experiment] = []
        token = None
        with self._asking():
            while True:
                page = self.client.search_experiments(
                    view_type=int(ViewType.ALL), max_results=SERVER_PAGE, page_token=token
                )
                found.extend(experiment_from_record(e) for e in page)
                token = page.token
                if not token:
                    return found

    def get_experiment(self, experiment_id: str | int) -> Experiment:
        with self._asking():
            return experiment_from_record(self.client.get_experiment(str(experiment_id)))

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        with self._asking():
            found = self.client.get_experiment_by_name(name)
        return None if found is None else experiment_from_record(found)

    # -- runs

    def _run(self, entity: Any) -> Run:
        run = run_from_record(entity)
        # A search result holds the latest point of each metric only: the history stays on the server.
        run.data.histories.clear()
        run.data.stored = StoredHistories(self, run.info.run_id)
        return run

    def get_run(self, run_id: str) -> Run:
        with self._asking():
            return self._run(self.client.get_run(run_id))

    def key_sets(self, experiment_ids: Iterable[str], lifecycle_stages: Iterable[str]) -> None:
        # A server cannot tell which keys its runs have without sending every run.
        del experiment_ids, lifecycle_stages

    def run_ids_starting(self, prefix: str, limit: int = 6) -> list[str]:
        # Run ids are letters and digits: another prefix starts none (and needs no escape in LIKE).
        experiment_ids = [e.experiment_id for e in self.experiments] if prefix.isalnum() else []
        if not experiment_ids:
            return []
        starting = Compare(Key(Entity.ATTRIBUTE, "run_id"), Op.LIKE, Literal(f"{prefix}%"))
        found = plan(starting, target=self.target, profile="extended")
        runs = self._answer(experiment_ids, found, int(ViewType.ALL), limit)
        return [run.info.run_id for run in itertools.islice(runs, limit)]

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
        with self._asking():
            points = self.client.get_metric_history(run_id, key)
        return [Metric(key, float(p.value), int(p.timestamp), int(p.step or 0)) for p in points]

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

    def _reading(self) -> AbstractContextManager[None]:
        # Each request stands alone: a server keeps no transaction open across a search.
        return nullcontext()

    def _server_pages(
        self, experiment_ids: list[str], found: Plan, view: int, size: int, token: str | None
    ) -> tuple[list[Run], str | None]:
        with self._asking():
            page = self.client.search_runs(
                experiment_ids,
                found.pushed_filter,
                run_view_type=view,
                max_results=size,
                order_by=list(found.pushed_order_by) or None,
                page_token=token,
            )
        self.fetched += len(page)
        return [self._run(r) for r in page], page.token or None

    def _answer(self, experiment_ids: list[str], found: Plan, view: int, wanted: int | None) -> Iterator[Run]:
        """The runs the whole query selects, in its order; when the server sorts, only until ``wanted``
        of them are found (None: all)."""
        if not experiment_ids:
            return
        residual = found.residual
        test = None if residual is None else compile_quietly(residual, profile="extended").predicate
        selected: list[Run] = []
        token: str | None = None
        while True:
            runs, token = self._server_pages(experiment_ids, found, view, SERVER_PAGE, token)
            selected.extend(r for r in runs if test is None or test(r))
            if found.server_sorts and wanted is not None and len(selected) >= wanted:
                break
            if token is None:
                break
        if not found.server_sorts:
            selected.sort(key=found.query.sort_key)
        yield from selected

    def _page(
        self,
        reading: None,
        query: Plan,
        experiment_ids: list[str],
        view: ViewType,
        page_token: str | bytes | None,
        size: int | None,
        paged: bool,
    ) -> Page:
        # A page the server answers exactly is the server's, with its token; the fluent search reads
        # pages of SERVER_PAGE runs instead, which every server accepts.
        if paged and query.server_pages and size is not None:
            if not experiment_ids:
                return Page([], None)
            token = page_token.decode() if isinstance(page_token, bytes) else page_token
            return Page(*self._server_pages(experiment_ids, query, int(view), size, token))
        offset = parse_page_token(page_token)
        # A paged search reads one run more than the page, which tells whether another page follows.
        wanted = None if size is None else offset + size + (1 if paged else 0)
        return Page(*paginate(list(self._answer(experiment_ids, query, int(view), wanted)), page_token, size))


def _refusals() -> tuple[type[BaseException], ...]:
    """What MLflow's client raises when a server refuses a request, or cannot be reached after its
    retries: ``MlflowException`` (its ``RestException`` among them). A client of one's own without
    MLflow installed raises none of them."""
    try:
        from mlflow.exceptions import MlflowException
    except ImportError:
        return ()
    return (MlflowException,)


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "message", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__
