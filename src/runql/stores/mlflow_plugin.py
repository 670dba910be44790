"""MLflow's own tracking server answering searches with runql: a tracking-store plugin.

``pip install 'runql[mlflow-server]'`` registers the URI schemes ``runql+sqlite``, ``runql+postgresql`` and
``runql+mysql`` with MLflow (the entry-point groups ``mlflow.tracking_store``, ``mlflow.model_registry_store``
and ``mlflow.workspace_provider``), so that ::

    mlflow server --backend-store-uri runql+sqlite:///mlflow.db

serves MLflow's whole REST API, and its UI, from MLflow's own SQL store on the database ``sqlite:///mlflow.db``,
but for the searches: a run search is compiled by runql and answered in SQL (:func:`runql.sql.runs_select`
selects the page's ids, a few set-based statements read those runs into MLflow's entities), and so is an
experiment search outside the ``mlflow`` profile (in memory: experiments are few).

The profile is a setting of the server: the URI's query parameter ``runql_profile`` (``runql+sqlite:///
mlflow.db?runql_profile=mlflow``), else the environment variable ``RUNQL_PROFILE``, else ``extended``.
Every runql error reaches the client as MLflow's ``INVALID_PARAMETER_VALUE`` (HTTP 400) with runql's
message and caret. Page tokens are MLflow's. See docs/mlflow-server.md.

MLflow imports this module while it starts (it loads every registered entry point on ``import mlflow``),
so the module imports nothing of MLflow's until a store is built: importing MLflow's SQL store from here
then would be a circular import, which MLflow reports as a warning and answers by dropping the scheme.
"""

from __future__ import annotations

import functools
import math
import os
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

from runql.errors import Diagnostic, RunqlError, UnsupportedQueryError
from runql.language.ast import And, Or
from runql.language.parser import parse_filter
from runql.model.paging import parse_page_token
from runql.profiles.catalog import get_profile
from runql.profiles.compiled import CompiledQuery, compile_quietly
from runql.sources.schemes import RUNQL_PREFIX

__all__ = [
    "DEFAULT_PROFILE",
    "PROFILE_PARAMETER",
    "PROFILE_VARIABLE",
    "SCHEME_PREFIX",
    "RunqlSearches",
    "database_url",
    "registry_store",
    "server_profile",
    "tracking_store",
    "workspace_store",
]

SCHEME_PREFIX = RUNQL_PREFIX
"""What a URI scheme starts with to be served by the plugin; the rest of the URI is the database's URL."""

PROFILE_PARAMETER = "runql_profile"
"""The query parameter of the store URI that names the profile of the server's searches."""

PROFILE_VARIABLE = "RUNQL_PROFILE"
"""The environment variable naming the profile when the URI does not."""

DEFAULT_PROFILE = "extended"
"""The profile of a server whose URI and environment name none."""

# The columns of `runs` an MLflow RunInfo is made of, in the order _read_runs reads them.
_RUN_COLUMNS = (
    "run_uuid",
    "name",
    "experiment_id",
    "user_id",
    "status",
    "start_time",
    "end_time",
    "lifecycle_stage",
    "artifact_uri",
)
# Runs read per statement when loading a page (a page may hold 50,000): far below every database's limit
# on bound parameters.
_CHUNK = 1000
# MLflow's server reads the read replica's URI from this variable (`mlflow server
# --read-replica-backend-store-uri`); its own builder passes it to the store.
_READ_REPLICA_VARIABLE = "_MLFLOW_SERVER_READ_REPLICA_BACKEND_STORE"


# -- the URI ----------------------------------------------------------------------------------------


def database_url(store_uri: str) -> str:
    """The database URL MLflow's SQL store opens for ``store_uri``: without the ``runql+`` prefix and the
    ``runql_profile`` parameter (other parameters are kept as written)."""
    url = store_uri[len(SCHEME_PREFIX) :] if store_uri.startswith(SCHEME_PREFIX) else store_uri
    base, mark, query = url.partition("?")
    if not mark:
        return url
    kept = [part for part in query.split("&") if part.split("=", 1)[0] != PROFILE_PARAMETER]
    return f"{base}?{'&'.join(kept)}" if kept else base


def server_profile(store_uri: str) -> str:
    """The profile a server over ``store_uri`` compiles searches with: the URI's ``runql_profile``
    parameter, else the ``RUNQL_PROFILE`` environment variable, else ``extended``. Raises
    ``ValueError`` for a name that is not a shipped profile's, so a misspelt setting stops the server
    from starting instead of answering in another language."""
    named = [
        value
        for part in store_uri.partition("?")[2].split("&")
        for key, _, value in [part.partition("=")]
        if key == PROFILE_PARAMETER
    ]
    if len(named) > 1:
        raise ValueError(f"the store URI names the {PROFILE_PARAMETER} parameter {len(named)} times")
    chosen = named[0] if named else os.environ.get(PROFILE_VARIABLE) or DEFAULT_PROFILE
    where = f"the URI's {PROFILE_PARAMETER} parameter" if named else f"{PROFILE_VARIABLE}"
    try:
        return get_profile(chosen).name
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None


# -- the builders MLflow's registries call ------------------------------------------------------------


def tracking_store(store_uri: str, artifact_uri: str | None = None) -> Any:
    """MLflow's tracking store for ``store_uri`` (``runql+<database URL>``), its searches answered by runql.

    The entry point of the ``mlflow.tracking_store`` group. The class is the one MLflow's own builder
    chooses for the database (the workspace-aware store when ``MLFLOW_ENABLE_WORKSPACES`` is set), with
    :class:`RunqlSearches` in front; a read replica the server was given is passed on as MLflow's
    builder passes it.
    """
    from mlflow.environment_variables import MLFLOW_ENABLE_WORKSPACES

    profile = server_profile(store_uri)
    url = database_url(store_uri)
    if artifact_uri is None:
        # MLflow's builder does the same: inside a server, the server's artifact root.
        from mlflow.store.tracking import DEFAULT_LOCAL_FILE_AND_ARTIFACT_PATH
        from mlflow.tracking._tracking_service.utils import _SERVER_ARTIFACT_ROOT_ENV_VAR

        artifact_uri = os.environ.get(_SERVER_ARTIFACT_ROOT_ENV_VAR, DEFAULT_LOCAL_FILE_AND_ARTIFACT_PATH)
    store_class = _tracking_class(bool(MLFLOW_ENABLE_WORKSPACES.get()))
    return store_class(url, artifact_uri, runql_profile=profile, read_db_uri=_read_replica())


def registry_store(store_uri: str) -> Any:
    """MLflow's model registry store on the database ``store_uri`` names, unchanged: the entry point of
    the ``mlflow.model_registry_store`` group, so a server started with only ``--backend-store-uri
    runql+...`` has a registry."""
    from mlflow.environment_variables import MLFLOW_ENABLE_WORKSPACES
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore

    store_class: Any = SqlAlchemyStore
    if MLFLOW_ENABLE_WORKSPACES.get():
        from mlflow.store.model_registry.sqlalchemy_workspace_store import WorkspaceAwareSqlAlchemyStore

        store_class = WorkspaceAwareSqlAlchemyStore
    return store_class(database_url(store_uri), read_db_uri=_read_replica())


def workspace_store(workspace_uri: str) -> Any:
    """MLflow's workspace store on the database ``workspace_uri`` names: the entry point of the
    ``mlflow.workspace_provider`` group, which a server with workspaces enabled reads from the backend
    store's URI when ``--workspace-store-uri`` is not given."""
    from mlflow.store.workspace.sqlalchemy_store import SqlAlchemyStore

    return SqlAlchemyStore(database_url(workspace_uri))


def _read_replica() -> str | None:
    """The read replica's URL the server was given (``--read-replica-backend-store-uri``), read as MLflow's
    own server builders read it and passed to the store as they pass it, without a ``runql+`` prefix."""
    replica = os.environ.get(_READ_REPLICA_VARIABLE)
    return database_url(replica) if replica else None


@functools.cache
def _tracking_class(workspaces: bool) -> type:
    """The class MLflow's own builder chooses (its SQL tracking store, workspace-aware or not), with
    :class:`RunqlSearches` in front."""
    base: Any
    if workspaces:
        from mlflow.store.tracking.sqlalchemy_workspace_store import WorkspaceAwareSqlAlchemyStore

        base = WorkspaceAwareSqlAlchemyStore
    else:
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        base = SqlAlchemyStore
    return type(f"Runql{base.__name__}", (RunqlSearches, base), {"__module__": __name__})


# -- the searches ---------------------------------------------------------------------------------------


class RunqlSearches:
    """The searches of MLflow's SQL tracking store, answered by runql; put in front of the store's class
    (``_search_runs`` and ``_search_experiments`` are the hooks MLflow's ``search_runs`` and
    ``search_experiments`` call, so MLflow's defaults and result types stay its own).

    Runs: the filter and order_by are compiled with the server's profile, one statement selects the ids
    of the page (one more tells whether a page follows), and the page's runs are read by id into MLflow's
    entities, with their dataset inputs and model outputs, as MLflow's search returns them. Experiments:
    in the ``mlflow`` profile, MLflow's own search; otherwise every experiment of the view (within the
    active workspace) read once and searched in memory.
    """

    runql_profile: str
    """The profile searches are compiled with (see :func:`server_profile`)."""

    # Given by MLflow's SqlAlchemyStore, which this class is always combined with.
    ManagedSessionMaker: Callable[..., Any]
    _validate_max_results_param: Callable[..., None]
    _filter_experiment_ids: Callable[..., list[int]]
    _get_eager_experiment_query_options: Callable[[], list[Any]]
    _experiment_where_clauses: Callable[[], list[Any]]
    _get_run_inputs: Callable[..., list[list[Any]]]
    _get_model_outputs_bulk: Callable[..., dict[str, list[Any]]]
    _get_effective_experiment_trace_archival_retention_context: Callable[[], Any]
    _to_experiment: Callable[[Any, Any], Any]

    def __init__(self, *args: Any, runql_profile: str = DEFAULT_PROFILE, **kwargs: Any) -> None:
        self.runql_profile = runql_profile
        cast(Any, super()).__init__(*args, **kwargs)

    def _search_runs(
        self,
        experiment_ids: Sequence[str | int],
        filter_string: str | None,
        run_view_type: int,
        max_results: int | None,
        order_by: Sequence[str] | None,
        page_token: str | bytes | None,
    ) -> tuple[list[Any], bytes | None]:
        import sqlalchemy as sa
        from mlflow.entities import LifecycleStage
        from mlflow.utils.search_utils import SearchUtils
        from mlflow.utils.validation import _parse_experiment_ids

        from runql.engines.sql import refused_pattern, register_sqlite_functions, runs_select

        self._validate_max_results_param(max_results, allow_null=True)
        with _as_mlflow_errors():
            compiled = compile_quietly(
                filter_string or "", _listed(order_by), profile=self.runql_profile, entity="runs"
            )
            offset = parse_page_token(page_token)
        stages = sorted(LifecycleStage.view_type_to_stages(run_view_type))
        with self.ManagedSessionMaker() as session:
            ids = self._filter_experiment_ids(session, _parse_experiment_ids(list(experiment_ids)))
            connection = session.connection()
            dialect = connection.dialect.name
            if dialect == "sqlite":
                # MLflow's pool may hold connections made before this store existed: register runql's
                # LIKE and RLIKE on the one this search reads through (cheap, and idempotent).
                register_sqlite_functions(connection.connection.driver_connection)
            with _as_mlflow_errors():
                statement = runs_select(
                    compiled,
                    _tables(),
                    dialect,
                    experiment_ids=[int(i) for i in ids],
                    lifecycle_stages=stages,
                    limit=None if max_results is None else max_results + 1,
                    offset=offset,
                    distinct_values=lambda values: connection.execute(values).scalars().all(),
                )
            try:
                run_ids = [row[0] for row in connection.execute(statement)]
            except sa.exc.DBAPIError as error:
                refusal = refused_pattern(error)
                if refusal is None:
                    raise
                with _as_mlflow_errors():
                    raise refusal from None
            token = None
            if max_results is not None and len(run_ids) > max_results:
                token = SearchUtils.create_page_token(offset + max_results)
                run_ids = run_ids[:max_results]
            return self._read_runs(session, connection, run_ids), token

    def _read_runs(self, session: Any, connection: Any, run_ids: Sequence[str]) -> list[Any]:
        """The runs ``run_ids`` names, in that order, as MLflow's search returns them: MLflow's entities,
        with their dataset inputs and model outputs.

        Read by id in set-based statements, never by asking MLflow's search again (``run_id IN (...)``
        meets its limit of 10,000 tokens): per thousand runs, their rows, latest metrics, params and tags
        with SQLAlchemy Core (MLflow's ORM models cost ten times as much for a page of 1,000), then
        MLflow's own statements for the inputs and outputs. The entities are built as MLflow's
        ``SqlRun.to_mlflow_entity`` builds them.
        """
        import sqlalchemy as sa
        from mlflow.entities import Metric, Param, Run, RunData, RunInfo, RunInputs, RunOutputs, RunTag
        from mlflow.utils.mlflow_tags import _get_run_name_from_tags

        tables = _tables()
        runs, latest = tables["runs"], tables["latest_metrics"]
        rows: dict[str, Any] = {}
        metrics: dict[str, list[Any]] = defaultdict(list)
        keyed: dict[str, dict[str, list[Any]]] = {"params": defaultdict(list), "tags": defaultdict(list)}
        for chunk in _chunks(run_ids):
            columns = [runs.c[name] for name in _RUN_COLUMNS]
            # .all(): one fetchall, where iterating the result fetches row by row.
            for row in connection.execute(sa.select(*columns).where(runs.c.run_uuid.in_(chunk))).all():
                rows[row[0]] = row
            for key, value, timestamp, step, is_nan, run_id in connection.execute(
                sa.select(
                    latest.c.key,
                    latest.c.value,
                    latest.c.timestamp,
                    latest.c.step,
                    latest.c.is_nan,
                    latest.c.run_uuid,
                ).where(latest.c.run_uuid.in_(chunk))
            ).all():
                metrics[run_id].append(Metric(key, math.nan if is_nan else value, timestamp, step))
            for name, entity in (("params", Param), ("tags", RunTag)):
                table = tables[name]
                statement = sa.select(table.c.key, table.c.value, table.c.run_uuid).where(
                    table.c.run_uuid.in_(chunk)
                )
                for key, value, run_id in connection.execute(statement).all():
                    keyed[name][run_id].append(entity(key, value))
        found = [run_id for run_id in run_ids if run_id in rows]
        listed: list[Any] = []
        for chunk in _chunks(found):
            inputs = self._get_run_inputs(session=session, run_uuids=chunk)
            outputs = self._get_model_outputs_bulk(run_ids=chunk, session=session)
            for run_id, dataset_inputs in zip(chunk, inputs, strict=True):
                run_uuid, name, experiment_id, user_id, status, start, end, stage, artifact_uri = rows[run_id]
                info = RunInfo(
                    run_id=run_uuid,
                    run_name=name,
                    experiment_id=str(experiment_id),
                    user_id=user_id,
                    status=status,
                    start_time=start,
                    end_time=end,
                    lifecycle_stage=stage,
                    artifact_uri=artifact_uri,
                )
                tags = keyed["tags"][run_id]
                if not info.run_name and (tagged := _get_run_name_from_tags(tags)):
                    info._set_run_name(tagged)
                data = RunData(metrics=metrics[run_id], params=keyed["params"][run_id], tags=tags)
                listed.append(
                    Run(info, data, RunInputs(dataset_inputs=dataset_inputs), RunOutputs(outputs[run_id]))
                )
        return listed

    def _search_experiments(
        self,
        view_type: int,
        max_results: int,
        filter_string: str | None,
        order_by: Sequence[str] | None,
        page_token: str | bytes | None,
    ) -> tuple[list[Any], bytes | None]:
        if self.runql_profile == "mlflow":
            # runql adds nothing MLflow lacks to an experiment search in MLflow's own language.
            result: tuple[list[Any], bytes | None] = cast(Any, super())._search_experiments(
                view_type, max_results, filter_string, order_by, page_token
            )
            return result
        import sqlalchemy as sa
        from mlflow.entities import LifecycleStage
        from mlflow.store.tracking.dbmodels.models import SqlExperiment
        from mlflow.utils.search_utils import SearchExperimentsUtils

        self._validate_max_results_param(max_results)
        with _as_mlflow_errors():
            compiled = _experiment_query(filter_string or "", _listed(order_by), self.runql_profile)
            offset = parse_page_token(page_token)
        stages = list(LifecycleStage.view_type_to_stages(view_type))
        # What MLflow builds its experiment entities with (the trace archival retention in effect).
        context = self._get_effective_experiment_trace_archival_retention_context()
        with self.ManagedSessionMaker() as session:
            statement = (
                sa.select(SqlExperiment)
                .options(*self._get_eager_experiment_query_options())
                .where(SqlExperiment.lifecycle_stage.in_(stages), *self._experiment_where_clauses())
            )
            experiments = [
                self._to_experiment(row, context)
                for row in session.execute(statement).scalars(SqlExperiment).all()
            ]
        with _as_mlflow_errors():
            selected = sorted(filter(compiled.predicate, experiments), key=compiled.sort_key)
        end = offset + max_results
        token = SearchExperimentsUtils.create_page_token(end) if end < len(selected) else None
        return selected[offset:end], token


def _experiment_query(filter_string: str, order_by: list[str] | None, profile: str) -> CompiledQuery:
    """The experiment query compiled, refusing an OR outside parentheses.

    MLflow's basic-auth app (3.18) scopes an experiment search by appending its permission scope to the
    caller's text: ``f"{filter} AND {scope}"``. After ``a OR b``, that reads ``a OR (b AND scope)``,
    and ``a`` escapes the scope; after ``(a OR b)`` it is scoped. So an OR at the top of an experiment
    filter must be written in parentheses, with or without authentication, so that a filter means the
    same on every server.
    """
    compiled = compile_quietly(filter_string, order_by, profile=profile, entity="experiments")
    tree = parse_filter(filter_string)
    if isinstance(tree, Or) and not isinstance(parse_filter(f"{filter_string} AND name = ''"), And):
        raise UnsupportedQueryError(
            [
                Diagnostic(
                    "unsupported-or",
                    "an OR at the top of an experiment filter must be in parentheses: a server appends its "
                    "permission scope with AND, which binds tighter than OR",
                    span=tree.span,
                    hint=f"write ({filter_string.strip()})",
                    source=filter_string,
                    where="filter_string",
                )
            ],
            profile=profile,
        )
    return compiled


@contextmanager
def _as_mlflow_errors() -> Iterator[None]:
    """Turns a runql error into MLflow's ``INVALID_PARAMETER_VALUE`` (HTTP 400), keeping runql's message
    and caret."""
    try:
        yield
    except RunqlError as error:
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

        raise MlflowException(str(error), error_code=INVALID_PARAMETER_VALUE) from None


@functools.cache
def _tables() -> Any:
    from runql.engines.sql import MLFLOW_SCHEMA

    return MLFLOW_SCHEMA.build()


def _listed(order_by: Sequence[str] | None) -> list[str] | None:
    # MLflow's handler passes a protobuf repeated field; runql keys its cache on a tuple of the texts.
    return None if order_by is None else [str(clause) for clause in order_by]


def _chunks(items: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield list(items[start : start + _CHUNK])
