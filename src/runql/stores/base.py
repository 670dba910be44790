"""The contract of every store of runs: MLflow's read calls, declared and documented once.

:class:`RunStore` declares what the :class:`~runql.Workspace`, the SQL store and the tracking server
store answer, with MLflow's names, signatures, defaults and errors, and writes the searches once. A
run search is the same steps in every store: check the arguments, compile the query, choose the
experiments, find one page, warn of the keys no searched run has, shape the answer. The steps that
differ are hooks a store implements:

- ``_prepare`` compiles the query as the store runs it (a :class:`CompiledQuery`; the server store's
  is a plan: what the server is sent and what runql evaluates), and ``_compiled`` gives back the
  whole compiled query;
- ``_reading`` is the scope of one call (the SQL store's read-only transaction), and
  ``_experiments_in`` the store's experiments within it;
- ``_page`` finds the runs of one page from a page token and a size, and the next page's token, as
  a :class:`Page`, which turns into the DataFrame or the list the caller asked for.

Experiments are few: every store searches them in memory, here; so are the model registry's registered
models and model versions (``_registry`` reads them), searched as MLflow's SQL registry store does.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from runql.engines.logged_models import LoggedModelSearch, order_by_entries, page_size, search_logged_models
from runql.engines.registry import (
    MODEL_PAGE,
    VERSION_PAGE,
    check_registry_page,
    search_models,
    search_versions,
)
from runql.errors import NotFoundError
from runql.language.ast import Entity, Key, clauses
from runql.model.arguments import (
    DEFAULT_EXPERIMENT_ID,
    SEARCH_MAX_RESULTS_DEFAULT,
    SEARCH_MAX_RESULTS_PANDAS,
    check_page_size,
    check_total,
    id_list,
    resolve_experiments,
    warn_at_caller,
)
from runql.model.entities import Experiment, Metric, Run, ViewType
from runql.model.frames import check_output_format, runs_to_frame
from runql.model.keys import KeySets, absent_keys
from runql.model.logged_models import LoggedModel, dataset_filters
from runql.model.paging import paginate
from runql.model.registry import ModelVersion, PagedList, RegisteredModel, Registry
from runql.profiles.catalog import Profile
from runql.profiles.compiled import CompiledQuery, OrderBy, compile_quietly

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Page", "RunStore"]

# Where a run keeps each kind of key the absent-key warnings look at.
_DATA = {Entity.METRIC: "metrics", Entity.PARAM: "params", Entity.TAG: "tags"}

_Q = TypeVar("_Q")
_S = TypeVar("_S")
_Store = TypeVar("_Store", bound="RunStore[Any, Any]")


class Page:
    """The runs of one page of a run search, in order, and the next page's token (None after the
    last page, and when the caller asked for no token)."""

    def __init__(self, runs: Sequence[Run], next_page_token: str | None) -> None:
        self.runs = runs
        self.next_page_token = next_page_token

    def listed(self) -> list[Run]:
        """The page's runs as a list."""
        return list(self.runs)

    def frame(self) -> pd.DataFrame:
        """The page's runs as ``mlflow.search_runs``'s DataFrame."""
        return runs_to_frame(self.runs)

    def holds(self, key: Key) -> bool:
        """Whether some run found has the metric, param or tag ``key``. When none has, the store's
        keys (:meth:`RunStore.key_sets`) tell whether some searched run has it."""
        return any(key.name in getattr(run.data, _DATA[key.entity]) for run in self.runs)


class RunStore(ABC, Generic[_Q, _S]):
    """MLflow's read calls over the runs and experiments of one store.

    ``_Q`` is the store's compiled form of a run query, ``_S`` what one call reads through (see the
    module's description of the hooks). A store is a context manager: leaving the ``with`` block
    closes it.
    """

    profile: str | Profile
    """The profile a search's query is checked against when the call names none."""

    # -- what each store answers -----------------------------------------------------------------

    @property
    @abstractmethod
    def experiments(self) -> list[Experiment]:
        """Every experiment of the store, active and deleted."""

    @property
    def active_experiment_id(self) -> str:
        """The experiment :meth:`search_runs` searches when none is named: MLflow's Default, ``"0"``."""
        return DEFAULT_EXPERIMENT_ID

    @abstractmethod
    def get_experiment(self, experiment_id: str | int) -> Experiment:
        """The experiment ``experiment_id`` (active or deleted); :class:`~runql.NotFoundError` when
        there is none."""

    @abstractmethod
    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment called ``name`` (active or deleted), or None."""

    @abstractmethod
    def get_run(self, run_id: str) -> Run:
        """The run ``run_id`` (active or deleted) with its params, tags, latest metrics and dataset
        inputs; :class:`~runql.NotFoundError` when there is none."""

    @abstractmethod
    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every logged point of the metric ``key`` of the run ``run_id`` (empty if the run never logged
        it), as ``MlflowClient.get_metric_history`` returns them: in logged order in memory; ordered by
        timestamp, step and value from a tracking database, as MLflow's SQL store reads them back; as
        the server sends them. :class:`~runql.NotFoundError` for an unknown run."""

    @abstractmethod
    def run_ids_starting(self, prefix: str, limit: int = 6) -> list[str]:
        """Up to ``limit`` ids of runs (active or deleted) that start with ``prefix``: the runs a short
        id names. An empty prefix names none."""

    @abstractmethod
    def key_sets(self, experiment_ids: Iterable[str], lifecycle_stages: Iterable[str]) -> KeySets | None:
        """The metric, param and tag keys of the runs of ``experiment_ids`` in ``lifecycle_stages``, or
        None when only reading every run would tell (a tracking server)."""

    @abstractmethod
    def _registry(self) -> Registry:
        """Every registered model (prompts included) and every model version of the store."""

    @abstractmethod
    def _logged_models(self, experiment_ids: Sequence[str]) -> list[LoggedModel]:
        """The logged models of ``experiment_ids`` (deleted ones may be among them)."""

    def close(self) -> None:
        """Release what the store holds open: a database's connections. A store in memory, or one
        that asks a server through MLflow's client, holds nothing, and closing it does nothing."""

    def __enter__(self: _Store) -> _Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- hooks -------------------------------------------------------------------------------------

    @abstractmethod
    def _prepare(self, filter_string: str | None, order_by: OrderBy, profile: str | Profile | None) -> _Q:
        """The run query as this store runs it, against ``profile`` (None: the store's); its warnings
        are issued at the caller's line."""

    @abstractmethod
    def _compiled(self, query: _Q) -> CompiledQuery:
        """The whole query ``_prepare`` compiled: what the answer must equal."""

    @abstractmethod
    def _reading(self) -> AbstractContextManager[_S]:
        """The scope of one search: everything the search reads is read within it."""

    def _experiments_in(self, reading: _S) -> Iterable[Experiment]:
        """Every experiment, read within ``reading``."""
        del reading
        return self.experiments

    @abstractmethod
    def _page(
        self,
        reading: _S,
        query: _Q,
        experiment_ids: list[str],
        view: ViewType,
        page_token: str | bytes | None,
        size: int | None,
        paged: bool,
    ) -> Page:
        """The runs ``query`` selects among the runs of ``experiment_ids`` that ``view`` shows, in the
        query's order: at most ``size`` of them (None: all), from where ``page_token`` left off (None:
        the first). ``paged`` says the caller pages (:meth:`search_runs_paged`) and wants the next
        page's token; otherwise the page's token is not read."""

    # -- the searches --------------------------------------------------------------------------------

    def _compile(
        self, filter_string: str | None, profile: str | Profile | None, entity: str, order_by: OrderBy
    ) -> CompiledQuery:
        chosen = self.profile if profile is None else profile
        compiled = compile_quietly(filter_string, order_by, profile=chosen, entity=entity)
        warn_at_caller(compiled.warnings)
        return compiled

    def _present_keys(
        self, experiment_ids: Iterable[str], lifecycle_stages: Iterable[str], named: Sequence[Key]
    ) -> KeySets | None:
        """What :func:`~runql.model.keys.absent_keys` needs to judge the metric, param and tag keys
        ``named``: of each kind, the keys of ``named`` some run of ``experiment_ids`` in
        ``lifecycle_stages`` has, and every key of that kind when one of ``named`` is absent (for the
        close keys a warning names). By default :meth:`key_sets`; a store that can ask about single keys
        more cheaply than it can list them all overrides it."""
        del named
        return self.key_sets(experiment_ids, lifecycle_stages)

    def _warn_absent_keys(
        self, compiled: CompiledQuery, experiment_ids: Iterable[str], view: ViewType, found: Page
    ) -> None:
        """Warn of the query's keys that no searched run has (``metrics.acc`` for ``accuracy``). The
        store's keys are read only when one is absent from every run ``found``."""
        q = compiled.query
        keys = [c.key for c in clauses(q.filter)] + [s.key for s in q.order_by]
        named = [key for key in keys if key.entity in _DATA]
        if all(found.holds(key) for key in named):
            return
        present = self._present_keys(experiment_ids, view.stages, named)
        if present is not None:
            warn_at_caller(absent_keys(q, present))

    def search_runs(
        self,
        experiment_ids: Sequence[str] | str | None = None,
        filter_string: str | None = "",
        run_view_type: int | str | ViewType = ViewType.ACTIVE_ONLY,
        max_results: int | None = SEARCH_MAX_RESULTS_PANDAS,
        order_by: Sequence[str] | str | None = None,
        output_format: str = "pandas",
        search_all_experiments: bool = False,
        experiment_names: Sequence[str] | None = None,
        profile: str | Profile | None = None,
    ) -> Any:
        """Runs matching ``filter_string``, ordered by ``order_by``, as ``mlflow.search_runs`` answers.

        - ``experiment_ids`` / ``experiment_names``: the experiments searched (one of the two; an unknown
          name is skipped with a warning). With neither, the active experiment is searched, or every
          active experiment with ``search_all_experiments=True``.
        - ``filter_string``: the filter (empty or None: every run); ``order_by``: a list of clauses such
          as ``"metrics.auc DESC"`` (a single string is one clause).
        - ``run_view_type``: ``ViewType.ACTIVE_ONLY``, ``DELETED_ONLY`` or ``ALL`` (or their names).
        - ``max_results``: at most this many runs (None: all; 0: none).
        - ``output_format``: ``"pandas"`` for a DataFrame laid out as MLflow's, ``"list"`` for
          :class:`Run` objects.
        - ``profile``: the profile the query is checked against (default: the store's).

        A metric, param or tag key no searched run has is warned of (a ``QueryWarning``, code
        ``unknown-key``) where the store can tell.
        """
        check_output_format(output_format)
        limit = check_total(max_results)
        query = self._prepare(filter_string, order_by, profile)
        view = ViewType.coerce(run_view_type)
        with self._reading() as reading:
            ids = resolve_experiments(
                experiment_ids,
                experiment_names,
                search_all_experiments,
                lambda: self._experiments_in(reading),
                self.active_experiment_id,
            )
            page = self._page(reading, query, ids, view, None, limit, paged=False)
        self._warn_absent_keys(self._compiled(query), ids, view, page)
        return page.frame() if output_format == "pandas" else page.listed()

    def search_runs_paged(
        self,
        experiment_ids: Sequence[str] | str,
        filter_string: str | None = "",
        run_view_type: int | str | ViewType = ViewType.ACTIVE_ONLY,
        max_results: int | None = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | str | None = None,
        page_token: str | bytes | None = None,
        profile: str | Profile | None = None,
    ) -> tuple[list[Run], str | None]:
        """One page of runs and the token of the next page (None after the last), like
        ``MlflowClient.search_runs``: ``experiment_ids`` to search, ``filter_string``,
        ``run_view_type``, ``max_results`` (1 to 50000; None: the rest), ``order_by``, ``page_token``
        (None for the first page, then the token returned) and ``profile``, as in :meth:`search_runs`.

        The tokens are MLflow's (base64 of the offset), so one from MLflow continues here and back;
        when a tracking server both selects and sorts exactly, the page and its token are the
        server's own.
        """
        check_page_size(max_results, allow_none=True)
        query = self._prepare(filter_string, order_by, profile)
        ids = id_list(experiment_ids)
        view = ViewType.coerce(run_view_type)
        with self._reading() as reading:
            page = self._page(reading, query, ids, view, page_token, max_results, paged=True)
        self._warn_absent_keys(self._compiled(query), ids, view, page)
        return page.listed(), page.next_page_token

    def _search_experiments(
        self,
        view_type: int | str | ViewType,
        filter_string: str | None,
        order_by: OrderBy,
        profile: str | Profile | None,
    ) -> list[Experiment]:
        compiled = self._compile(filter_string, profile, "experiments", order_by)
        stages = ViewType.coerce(view_type, "view_type").stages
        return compiled.search([e for e in self.experiments if e.lifecycle_stage in stages])[0]

    def search_experiments(
        self,
        view_type: int | str | ViewType = ViewType.ACTIVE_ONLY,
        max_results: int | None = None,
        filter_string: str | None = None,
        order_by: Sequence[str] | str | None = None,
        profile: str | Profile | None = None,
    ) -> list[Experiment]:
        """Experiments matching ``filter_string``, by default newest first (``mlflow.search_experiments``).

        ``view_type`` chooses active, deleted or all experiments; ``max_results`` caps the list (None:
        all); ``order_by`` lists ``name``, ``experiment_id``, ``creation_time`` or ``last_update_time``
        clauses; ``profile`` overrides the store's.
        """
        limit = check_total(max_results)
        found = self._search_experiments(view_type, filter_string, order_by, profile)
        return found if limit is None else found[:limit]

    # -- the model registry ----------------------------------------------------------------------

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = MODEL_PAGE[0],
        order_by: Sequence[str] | str | None = None,
        page_token: str | bytes | None = None,
        profile: str | Profile | None = None,
    ) -> PagedList:
        """One page of registered models, as ``MlflowClient.search_registered_models`` returns it: a
        list with the next page's ``token``. Filters name ``name`` and ``tags.<key>`` (the ``extended``
        profile: OR, NOT, IS NULL, RLIKE, the timestamps too); ``order_by`` names ``name``,
        ``last_updated_timestamp`` (``timestamp``), each then by name. Prompts are left out unless
        the filter asks for them (``tags.`mlflow.prompt.is_prompt` = 'true'``); at most 1000 a page."""
        size = check_registry_page(max_results, MODEL_PAGE[1], least=0)
        compiled = self._compile(filter_string, profile, "registered_models", order_by)
        return self._model_page(compiled, size, page_token, prompts=False)

    def search_prompts(
        self,
        filter_string: str | None = None,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        page_token: str | bytes | None = None,
        order_by: Sequence[str] | str | None = None,
        profile: str | Profile | None = None,
    ) -> PagedList:
        """One page of prompts (registered models tagged as prompts), as ``MlflowClient.search_prompts``
        selects them; each is returned as the registered model it is."""
        size = check_registry_page(max_results, MODEL_PAGE[1], least=0)
        compiled = self._compile(filter_string, profile, "registered_models", order_by)
        return self._model_page(compiled, size, page_token, prompts=True)

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = VERSION_PAGE[0],
        order_by: Sequence[str] | str | None = None,
        page_token: str | bytes | None = None,
        profile: str | Profile | None = None,
    ) -> PagedList:
        """One page of model versions, as ``MlflowClient.search_model_versions`` returns it. Filters name
        ``name``, ``run_id``, ``source_path``, ``version_number`` and ``tags.<key>``; ``order_by`` names
        those and the two timestamps, by default ``last_updated_timestamp DESC``, then name ASC and
        version DESC. The versions of prompts are left out unless the filter asks for them."""
        size = check_registry_page(max_results, VERSION_PAGE[1], least=1)
        compiled = self._compile(filter_string, profile, "model_versions", order_by)
        return self._version_page(compiled, size, page_token)

    def _model_page(
        self, compiled: CompiledQuery, size: int, page_token: str | bytes | None, prompts: bool
    ) -> PagedList:
        """One page of the registered models ``compiled`` selects (prompts alone with ``prompts``), read
        from :meth:`_registry` and searched here; a store that can search in place overrides it."""
        return search_models(compiled, self._registry().models, size, page_token, prompts)

    def _version_page(self, compiled: CompiledQuery, size: int, page_token: str | bytes | None) -> PagedList:
        """One page of the model versions ``compiled`` selects, as :meth:`_model_page`."""
        return search_versions(compiled, self._registry().versions, size, page_token)

    def get_registered_model(self, name: str) -> RegisteredModel:
        """The registered model (or prompt) ``name``; :class:`~runql.NotFoundError` when there is none."""
        for model in self._registry().models:
            if model.name == name:
                return model
        raise NotFoundError(f"Registered Model with name={name} not found")

    def get_prompt(self, name: str) -> RegisteredModel | None:
        """The prompt ``name``, as the registered model it is; None when there is no such prompt (as
        MLflow's store answers)."""
        try:
            model = self.get_registered_model(name)
        except NotFoundError:
            return None
        return model if model.is_prompt else None

    def get_model_version(self, name: str, version: str | int) -> ModelVersion:
        """Version ``version`` of the registered model ``name``; :class:`~runql.NotFoundError` when there
        is none."""
        for found in self._registry().versions:
            if found.name == name and found.version == str(version):
                return found
        raise NotFoundError(f"Model Version (name={name}, version={version}) not found")

    # -- logged models ------------------------------------------------------------------------------

    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        datasets: Sequence[dict[str, Any]] | None = None,
        max_results: int | None = None,
        order_by: Sequence[dict[str, Any]] | None = None,
        page_token: str | None = None,
        profile: str | Profile | None = None,
    ) -> PagedList:
        """One page of the logged models of ``experiment_ids``, as ``MlflowClient.search_logged_models``
        returns it. Filters name attributes (``name``, ``model_type``, ``source_run_id``,
        ``creation_timestamp``...), ``metrics.``, ``params.`` and ``tags.``; a metric clause matches when
        any point of the metric does, on one of ``datasets`` (``[{"dataset_name": ...,
        "dataset_digest": ...}]``) when they are given. ``order_by`` is MLflow's list of dicts
        (``field_name``, ``ascending``, ``dataset_name``, ``dataset_digest``); a metric orders by its
        latest point, and models then by creation_timestamp DESC, model_id ASC. 100 a page by default."""
        entries = order_by_entries(order_by)
        search = LoggedModelSearch(
            self._compile(filter_string, profile, "logged_models", [e.text for e in entries]),
            id_list(experiment_ids),
            dataset_filters(datasets),
            entries,
            filter_string,
            order_by,
            page_size(max_results),
            page_token,
        )
        return self._logged_page(search)

    def _logged_page(self, search: LoggedModelSearch) -> PagedList:
        """One page of a logged-model search, over the models :meth:`_logged_models` reads; a store that
        can search in place overrides it."""
        return search_logged_models(search, self._logged_models(search.experiment_ids))

    def get_logged_model(self, model_id: str) -> LoggedModel:
        """The logged model ``model_id`` (not a deleted one); :class:`~runql.NotFoundError` when there is
        none."""
        for model in self._logged_models([e.experiment_id for e in self.experiments]):
            if model.model_id == model_id and model.lifecycle_stage != "deleted":
                return model
        raise NotFoundError(f"Logged model with ID '{model_id}' not found.")

    def search_experiments_paged(
        self,
        view_type: int | str | ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: Sequence[str] | str | None = None,
        page_token: str | bytes | None = None,
        profile: str | Profile | None = None,
    ) -> tuple[list[Experiment], str | None]:
        """One page of experiments and the next page's token, like ``MlflowClient.search_experiments``;
        the arguments are :meth:`search_experiments`'s, with ``page_token`` (None for the first page)."""
        check_page_size(max_results, allow_none=False)
        found = self._search_experiments(view_type, filter_string, order_by, profile)
        return paginate(found, page_token, max_results)
