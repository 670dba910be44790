"""Any MLflow tracking URI read through ``mlflow.MlflowClient``: a tracking server, Databricks, Azure ML.

Experiments and runs are paged through (deleted ones included). A run's search result carries only the
latest point of each metric, so the histories stay on the server: the records come with a
:class:`ClientHistories`, which asks the server for a history when one is needed (a function of a
metric's history in a search, ``get_metric_history``, a plot, ``save``). ``with_history=True`` asks for
every history at load instead (one request per run and metric key), for a workspace that outlives the
server.

A server is read defensively, here and by :class:`~runql.stores.server.ServerStore`: :class:`PageTokens`
stops a listing whose page tokens come back or never end, an item a listing sends twice is kept once,
and a reply MLflow's client cannot parse (:func:`unreadable_replies`) is a :class:`StoreError` naming
what was wrong, never protobuf's own exception.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from runql.common.optional import progress_bar, require
from runql.common.redact import redact, shown
from runql.errors import StoreError
from runql.model.entities import Metric
from runql.model.logged_models import LoggedModel, logged_model_from_entity
from runql.model.registry import PROMPT_TAG, Registry, model_version_from_entity, registered_model_from_entity
from runql.sources.base import StoreRecords, sort_inputs

__all__ = [
    "MAX_PAGES",
    "ClientHistories",
    "PageTokens",
    "history_points",
    "quoted",
    "read_mlflow",
    "unreadable",
    "unreadable_replies",
]

# Page sizes every tracking server accepts (Databricks caps run pages at 1000).
EXPERIMENT_PAGE = 1000
RUN_PAGE = 1000
ALL = 3  # MLflow's ViewType.ALL

MAX_PAGES = 10_000
"""The most pages one listing of a server reads (experiments, the runs of a search, a metric's history):
ten million runs at a thousand a page. Past it the listing stops with ``server-misbehaved``: a server
whose tokens never end would otherwise be read until memory runs out. Read when a listing starts, so
rebinding it changes the next listing."""


class PageTokens:
    """The page tokens of one listing of a server, checked as they come.

    A token the server already sent (its ``next_page_token`` never changes, or comes back round) would
    make the listing endless, and so would tokens that never end: either is a :class:`StoreError`
    (``server-misbehaved``) naming ``what`` was listed. ``first`` is the token the listing starts from,
    when it continues another.
    """

    def __init__(self, what: str, where: str, first: str | None = None) -> None:
        self.what = what
        self.where = where
        self.pages = 0
        self._limit = MAX_PAGES
        self._seen: set[str] = set() if first is None else {first}

    def follow(self, token: str | None) -> str | None:
        """The token to ask for the next page with, given the one the page just read sent; None when
        that page was the last."""
        self.pages += 1
        if not token:
            return None
        if token in self._seen:
            raise StoreError(
                f"the server sent a page token of {self.what} it had already sent: its pages would never end",
                where=self.where,
                code="server-misbehaved",
            )
        if self.pages >= self._limit:
            raise StoreError(
                f"the server sent more than {self._limit:,} pages of {self.what}, the most one listing "
                "reads (runql.sources.mlflow_client.MAX_PAGES)",
                where=self.where,
                code="server-misbehaved",
            )
        self._seen.add(token)
        return token


def unreadable_replies() -> tuple[type[BaseException], ...]:
    """What MLflow's client raises for a reply it cannot parse into its messages: protobuf's
    ``ParseError`` (a ``run_id`` of 5, a time of 1e400, a step past 64 bits). A body that is not JSON
    at all is an ``MlflowException`` of MLflow's own, a refusal quoting it."""
    try:
        from google.protobuf.json_format import ParseError  # type: ignore[import-untyped,unused-ignore]
    except ImportError:  # a client of one's own, without MLflow's protobuf
        return ()
    return (ParseError,)


def unreadable(error: BaseException, where: str, uri: str | None) -> StoreError:
    """The :class:`StoreError` for a reply ``error`` says cannot be parsed: its first line names the field
    (``Failed to parse run_id field: expected string ...``)."""
    message = f"the server sent a reply MLflow's client cannot read: {quoted(error, uri)}"
    return StoreError(message, where=where, code="server-misbehaved")


# The most characters of a server's message an error quotes: a reply may be a megabyte long.
QUOTED = 1000


def quoted(error: BaseException, uri: str | None) -> str:
    """The first line of an error's message (MLflow's messages go on with the server's whole reply),
    without credentials, then cut to :data:`QUOTED` characters (in that order: a cut could split a
    password from the ``@`` that marks it)."""
    text = str(getattr(error, "message", None) or error).strip()
    return shown(redact(text.splitlines()[0], uri), QUOTED) if text else type(error).__name__


@contextmanager
def _asked(where: str, uri: str | None) -> Iterator[None]:
    """What a call of MLflow's client raises as a :class:`StoreError` quoting the server's first line,
    without credentials (``not-found`` for an unknown experiment, ``server-refused`` otherwise)."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except MlflowException as error:
        missing = getattr(error, "error_code", None) == "RESOURCE_DOES_NOT_EXIST"
        code = "not-found" if missing else "server-refused"
        raise StoreError(quoted(error, uri), where=where, code=code) from None
    except unreadable_replies() as error:
        raise unreadable(error, where, uri) from None


def _listed(
    fetch: Callable[[str | None], Any], what: str, where: str, id_of: Callable[[Any], str]
) -> Iterator[Any]:
    """Every item of every page ``fetch(token)`` returns, each id once: a server that repeats an item
    across pages does not duplicate it."""
    tokens = PageTokens(what, where)
    seen: set[str] = set()
    token = None
    while True:
        page = fetch(token)
        for item in page:
            if (key := id_of(item)) not in seen:
                seen.add(key)
                yield item
        token = tokens.follow(page.token)
        if token is None:
            return


Listing = Callable[..., list[Any]]
"""``listing(what, search, filter_string, size, **scope)``: every item a paged search of the client returns
(``search(filter_string=..., max_results=size, page_token=..., **scope)``); ``what`` names it in errors."""


def client_registry(client: Any, listing: Listing) -> Registry:
    """Every registered model (prompts included) and model version a tracking server serves."""
    # MLflow's client leaves prompts out of a registered-model search unless the filter names the prompt
    # tag, and its store leaves prompts' versions out the same way: each is asked for apart.
    asked = f"tags.`{PROMPT_TAG}` = 'true'"
    search = client.search_registered_models
    models = [registered_model_from_entity(m) for m in listing("models", search, None, 1000)]
    prompts = [registered_model_from_entity(m) for m in listing("prompts", search, asked, 1000)]
    for prompt in prompts:
        prompt.tags[PROMPT_TAG] = "true"  # MLflow's entity leaves the prompt tag out of its tags
    versions = listing("model versions", client.search_model_versions, None, 10_000)
    versions += listing("prompt versions", client.search_model_versions, asked, 10_000)
    return Registry(models + prompts, [model_version_from_entity(v) for v in versions])


def client_logged_models(client: Any, listing: Listing, experiment_ids: Sequence[str]) -> list[LoggedModel]:
    """The logged models of ``experiment_ids`` a tracking server serves (deleted ones it does not)."""
    if not experiment_ids:
        return []
    found = listing(
        "logged models", client.search_logged_models, None, 1000, experiment_ids=list(experiment_ids)
    )
    return [logged_model_from_entity(m) for m in found]


def history_points(
    client: Any, run_id: str, key: str, where: str, ask: Callable[..., Any] | None = None
) -> list[Metric]:
    """Every point of metric ``key`` of run ``run_id`` that ``client`` reads, in the server's order.

    ``MlflowClient.get_metric_history`` pages through a history without looking at the tokens, so a
    server that repeats one would keep it reading forever: through MLflow's own client, the pages are
    read here instead, from the store behind it (as that method does, with its page size), and their
    tokens checked (:class:`PageTokens`). Another client's ``get_metric_history`` is called as it is.
    ``ask(call, *args, **kwargs)`` makes each request (a store's deadline); by default, the call itself.
    """
    ask = ask or (lambda call, *args, **kwargs: call(*args, **kwargs))
    store = getattr(getattr(client, "_tracking_client", None), "store", None)
    if store is None:
        return _points(key, ask(client.get_metric_history, run_id, key))
    from mlflow.store.tracking import GET_METRIC_HISTORY_MAX_RESULTS

    tokens = PageTokens(f"the history of metric {key!r}", where)
    points: list[Metric] = []
    token = None
    while True:
        page = ask(
            store.get_metric_history,
            run_id=run_id,
            metric_key=key,
            max_results=GET_METRIC_HISTORY_MAX_RESULTS,
            page_token=token,
        )
        points.extend(_points(key, page))
        token = tokens.follow(getattr(page, "token", None))
        if token is None:
            return points


def _points(key: str, points: Iterable[Any]) -> list[Metric]:
    return [Metric(key, float(p.value), int(p.timestamp), int(p.step or 0)) for p in points]


class ClientHistories:
    """The metric histories of runs read through MLflow's client without them, asked for when needed.

    A :class:`~runql.model.entities.HistorySource`: each history is one request to the server (the
    server must stay reachable), and nothing is kept, so a history includes the points logged since the
    load. ``keys`` holds each run's metric keys (those of its latest values): a run is never asked for a
    metric it does not have.
    """

    def __init__(self, client: Any, where: str, uri: str | None, keys: dict[str, frozenset[str]]) -> None:
        self._client = client
        self.where = where
        self._uri = uri  # may hold a password: only ever shown through redact()
        self._keys = keys

    def __repr__(self) -> str:
        return f"ClientHistories({self.where!r})"

    def history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of metric ``key`` of run ``run_id``, as the server sends them (empty if none)."""
        if key not in self._keys.get(run_id, ()):
            return []
        with _asked(self.where, self._uri):
            return history_points(self._client, run_id, key, self.where)

    def histories(
        self, run_ids: Sequence[str], keys: Collection[str] | None = None
    ) -> dict[str, dict[str, list[Metric]]]:
        """Every point of the metrics ``keys`` (None: every metric) of the runs ``run_ids``, by run id and
        key (runs without points left out): one request per run and metric it has."""
        found: dict[str, dict[str, list[Metric]]] = {}
        for run_id in run_ids:
            held = self._keys.get(run_id, frozenset())
            wanted = held if keys is None else [k for k in keys if k in held]
            points = {key: history for key in wanted if (history := self.history(run_id, key))}
            if points:
                found[run_id] = points
        return found


def _experiment_record(experiment: Any) -> dict[str, Any]:
    return {
        "experiment_id": str(experiment.experiment_id),
        "name": experiment.name,
        "artifact_location": experiment.artifact_location,
        "lifecycle_stage": experiment.lifecycle_stage,
        "creation_time": experiment.creation_time,
        "last_update_time": experiment.last_update_time,
        "tags": dict(experiment.tags),
    }


def _run_record(run: Any, histories: dict[str, list[Metric]] | None) -> dict[str, Any]:
    info = run.info
    metrics: dict[str, Any]
    if histories is None:
        # The latest values alone: the histories stay on the server (ClientHistories).
        metrics = dict(run.data.metrics)
    else:
        metrics = {
            key: [{"value": p.value, "step": p.step, "timestamp": p.timestamp} for p in points]
            for key, points in histories.items()
        }
    inputs = [
        {
            "dataset": {
                "name": d.dataset.name,
                "digest": d.dataset.digest,
                "source_type": d.dataset.source_type,
                "source": d.dataset.source,
                "schema": d.dataset.schema,
                "profile": d.dataset.profile,
            },
            "tags": {t.key: t.value for t in d.tags},
        }
        for d in (getattr(getattr(run, "inputs", None), "dataset_inputs", None) or [])
    ]
    return {
        "run_id": info.run_id,
        "experiment_id": str(info.experiment_id),
        "run_name": info.run_name,
        "user_id": info.user_id,
        "status": info.status,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "artifact_uri": info.artifact_uri,
        "lifecycle_stage": info.lifecycle_stage,
        "metrics": metrics,
        "params": dict(run.data.params),
        "tags": dict(run.data.tags),
        "inputs": sort_inputs(inputs),
    }


def read_mlflow(
    tracking_uri: str | None = None,
    experiment_ids: Iterable[str | int] | None = None,
    with_history: bool = False,
    *,
    progress: bool | None = None,
) -> StoreRecords:
    """The experiments and runs a tracking URI serves (deleted ones included), with its model registry and
    its logged models, through MLflow's client.

    ``tracking_uri`` defaults to MLflow's own default (``MLFLOW_TRACKING_URI``, then the local
    store). ``experiment_ids`` limits the load to those experiments. Each run comes with its metrics'
    latest values, and its histories are read from the server when asked for (the records'
    ``histories``, a :class:`ClientHistories`); with ``with_history``, every history is read now. A
    server that refuses is a :class:`StoreError` quoting it (``server-refused``); one whose pages never
    end or whose reply cannot be parsed, ``server-misbehaved``. Needs MLflow (``pip install
    'runql[mlflow]'``).
    """
    mlflow = require("mlflow", "mlflow", "reading runs through an MLflow tracking URI")
    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    where = redact(tracking_uri) if tracking_uri else "the default tracking URI"

    def listing(
        what: str, search: Callable[..., Any], filter_string: str | None, size: int, **scope: Any
    ) -> list[Any]:
        def fetch(token: str | None) -> Any:
            return search(filter_string=filter_string, max_results=size, page_token=token, **scope)

        return list(_listed(fetch, what, where, _model_key))

    with _asked(where, tracking_uri):
        records, experiments = _read(client, experiment_ids, with_history, progress, where)
        registry = client_registry(client, listing)
        logged = _served(
            lambda: client_logged_models(client, listing, [e.experiment_id for e in experiments])
        )
    histories = None
    if not with_history:
        keys = {r["run_id"]: frozenset(r["metrics"]) for r in records}
        histories = ClientHistories(client, where, tracking_uri, keys)
    return StoreRecords(
        [_experiment_record(e) for e in experiments],
        records,
        where=where,
        histories=histories,
        registry=registry,
        logged_models=logged,
    )


def _model_key(item: Any) -> str:
    """What tells two items of a model search apart: a logged model's id, a version's name and number,
    a registered model's name."""
    return repr(
        (getattr(item, "model_id", None), getattr(item, "name", None), getattr(item, "version", None))
    )


def _served(read: Callable[[], list[LoggedModel]]) -> list[LoggedModel]:
    """The logged models ``read`` lists; none from a server before MLflow 3, which has no such endpoint."""
    from mlflow.exceptions import MlflowException

    try:
        return read()
    except MlflowException as error:
        if getattr(error, "error_code", None) == "ENDPOINT_NOT_FOUND":
            return []
        raise


def _run_page(client: Any, experiment_id: str, token: str | None) -> Any:
    return client.search_runs([experiment_id], run_view_type=ALL, max_results=RUN_PAGE, page_token=token)


def _read(
    client: Any,
    experiment_ids: Iterable[str | int] | None,
    with_history: bool,
    progress: bool | None,
    where: str,
) -> tuple[list[dict[str, Any]], list[Any]]:
    if experiment_ids is None:
        experiments = list(
            _listed(
                lambda token: client.search_experiments(
                    view_type=ALL, max_results=EXPERIMENT_PAGE, page_token=token
                ),
                "experiments",
                where,
                lambda e: str(e.experiment_id),
            )
        )
    else:
        experiments = [client.get_experiment(str(i)) for i in experiment_ids]
    runs: list[Any] = []
    for experiment in experiments:
        fetch = functools.partial(_run_page, client, experiment.experiment_id)
        what = f"the runs of experiment {experiment.experiment_id}"
        runs.extend(_listed(fetch, what, where, lambda r: str(r.info.run_id)))
    records = []
    for run in progress_bar(
        runs, total=len(runs), desc="reading runs", unit="run", enabled=progress, extra="mlflow"
    ):
        histories = None
        if with_history:
            histories = {key: history_points(client, run.info.run_id, key, where) for key in run.data.metrics}
        records.append(_run_record(run, histories))
    return records, experiments
