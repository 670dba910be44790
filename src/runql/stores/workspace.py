"""A workspace: experiments and runs held in memory, searched and edited through MLflow's API.

The method names, parameters, defaults and errors are MLflow's (``mlflow.search_runs``,
``MlflowClient.get_metric_history``, ...), so code written against MLflow runs against a workspace
with ``mlflow.`` replaced by ``ws.``. Each search is validated against a profile (``mlflow`` by
default; ``azureml`` and ``extended`` ship too), then answered, for runs, by the column store
(:mod:`runql.engines.columnar`) and, for experiments, by the reference evaluator, and shaped by
:mod:`runql.model.frames`. Runs are changed through the
workspace's methods (``log_metric``, ``set_tag``, ``delete_run``, ...), which keep the store current.
"""

from __future__ import annotations

import functools
import getpass
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

from runql.common.collector import collector_paused
from runql.common.redact import redact
from runql.errors import Diagnostic, MissingDependencyError, NotFoundError, StoreError, UnsupportedQueryError
from runql.model.arguments import DEFAULT_EXPERIMENT_ID
from runql.model.comparison import compare_runs, plot_metric_history
from runql.model.entities import (
    RUN_NAME_TAG,
    Experiment,
    FileInfo,
    HistorySource,
    LifecycleStage,
    Metric,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    StoredHistories,
    ViewType,
)
from runql.model.keys import KeySets
from runql.model.logged_models import LoggedModel
from runql.model.paging import next_page_token, parse_page_token
from runql.model.records import (
    check_int,
    check_text,
    experiment_from_record,
    experiment_to_record,
    metric_value,
    run_from_record,
    run_to_record,
)
from runql.model.registry import Registry
from runql.profiles.compiled import CompiledQuery, OrderBy
from runql.sources import (
    StoreRecords,
    read_jsonl,
    read_mlflow,
    read_mlflow_db,
    read_mlflow_dir,
    source_kind,
    write_jsonl,
)
from runql.sources.mlflow_dir_logged_models import read_logged_models_dir
from runql.sources.mlflow_dir_registry import read_registry_dir
from runql.stores.base import Page, RunStore

if TYPE_CHECKING:
    import pandas as pd

    from runql.engines.column_first import ColumnFirstRuns
    from runql.engines.columnar import ColumnarRuns, Selection
    from runql.language.ast import Key
    from runql.profiles.catalog import Profile

__all__ = ["NotFoundError", "Workspace", "from_mlflow", "from_mlflow_db", "from_mlflow_dir"]


# Runs whose histories a store keeps are saved this many at a time: one read of the store for each
# chunk, and never every history in memory at once.
_SAVE_CHUNK = 5000


def _now_ms() -> int:
    return int(time.time() * 1000)


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _locked(method: Callable[Concatenate[Workspace, _P], _R]) -> Callable[Concatenate[Workspace, _P], _R]:
    """Run ``method`` holding the workspace's lock: one call at a time sees or changes its state."""

    def locked(self: Workspace, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self._lock:
            return method(self, *args, **kwargs)

    functools.update_wrapper(locked, method)
    return locked


def _key(key: Any, what: str) -> str:
    """A metric, param or tag key: a string, as MLflow requires (JSON would save 5 as "5")."""
    if not isinstance(key, str):
        raise ValueError(f"a {what} key must be a string, not {key!r:.80}")
    return key


class Workspace(RunStore[CompiledQuery, None]):
    """Experiments and runs in memory, with MLflow's tracking API over them (the read calls of a
    :class:`~runql.stores.base.RunStore`, and MLflow's calls that log, tag, delete and restore).

    A workspace may be shared by threads: each call holds the workspace's lock while it reads or
    changes the runs, so a search answers from the state between two writes, and a write either
    happens whole or, raising, changes nothing.
    """

    def __init__(
        self,
        experiments: Iterable[Any] = (),
        runs: Iterable[Any] = (),
        *,
        profile: str | Profile = "mlflow",
        active_experiment_id: str | None = None,
        last_active_run_id: str | None = None,
        history_source: HistorySource | None = None,
        registry: Registry | None = None,
        logged_models: Iterable[LoggedModel] = (),
    ) -> None:
        self.profile = profile
        # The model registry's registered models and versions, and the logged models (read-only here).
        self._model_registry = registry or Registry()
        self._logged_model_list = list(logged_models)
        # Reentrant: a locked call may make another (set_experiment creates an experiment).
        self._lock = threading.RLock()
        self._experiments: dict[str, Experiment] = {}
        # Run objects by id; or, for runs read as columns, a view that makes each from the columns.
        self._runs: dict[str, Run] | _RunsById = {}
        with collector_paused():
            for record in experiments:
                self._add_experiment(experiment_from_record(record))
            for record in runs:
                run = self._add_run(record)
                if history_source is not None:
                    run.data.stored = StoredHistories(history_source, run.info.run_id)
        self._active_experiment_id = active_experiment_id
        self._last_active_run_id = last_active_run_id
        self._store: ColumnarRuns | None = None

    # -- building ----------------------------------------------------------------------------

    @classmethod
    def from_records(
        cls,
        experiments: Iterable[Mapping[str, Any] | Any] = (),
        runs: Iterable[Mapping[str, Any] | Any] = (),
        **options: Any,
    ) -> Workspace:
        """A workspace from plain dicts (or objects shaped like ``mlflow.entities`` ones).

        A run record has ``run_id`` and optionally ``experiment_id``, ``run_name``, ``user_id``,
        ``status``, ``start_time``, ``end_time``, ``artifact_uri``, ``lifecycle_stage``, ``metrics``
        (``{key: value}`` or ``{key: [{"value", "step", "timestamp"}, ...]}``), ``params``, ``tags``
        and ``inputs``. Experiments that runs name but ``experiments`` lacks are created.

        ``history_source`` (a :class:`~runql.model.entities.HistorySource`) keeps the metric histories that
        ``runs`` leave out, as a tracking database does: a run reads a history from it whenever asked
        for one (:meth:`get_metric_history`), and :meth:`save` writes them whole.
        """
        return cls(experiments, runs, **options)

    @classmethod
    def sample(cls, artifact_root: str | os.PathLike[str] | None = None, **options: Any) -> Workspace:
        """The bundled sample: a few experiments and a few hundred runs (see :mod:`runql.sources.sample`).

        With ``artifact_root``, a few runs get small artifacts written under it.
        """
        from runql.sources.sample import sample_records

        data = sample_records(artifact_root)
        options.setdefault("active_experiment_id", data.active_experiment_id)
        options.setdefault("last_active_run_id", data.last_active_run_id)
        options.setdefault("registry", data.registry)
        options.setdefault("logged_models", data.logged_models)
        return cls(data.experiments, data.runs, **options)

    def _add_experiment(self, experiment: Experiment) -> None:
        if experiment.experiment_id in self._experiments:
            raise ValueError(f"experiment id {experiment.experiment_id!r} appears twice")
        self._experiments[experiment.experiment_id] = experiment

    def _add_run(self, record: Any) -> Run:
        experiment_id = (
            str(record.get("experiment_id", DEFAULT_EXPERIMENT_ID))
            if isinstance(record, Mapping)
            else str(record.info.experiment_id)
        )
        experiment = self._experiments.get(experiment_id)
        if experiment is None:
            experiment = Experiment(experiment_id, name=experiment_id)
            self._add_experiment(experiment)
        run = run_from_record(record, experiment.artifact_location)
        runs = self._run_objects()
        if run.info.run_id in runs:
            raise ValueError(f"run id {run.info.run_id!r} appears twice")
        runs[run.info.run_id] = run
        self._store = None
        return run

    def _run_objects(self) -> dict[str, Run]:
        """The runs as objects, to add one: runs read as columns are all made, once."""
        if isinstance(self._runs, _RunsById):
            self._runs = {run.info.run_id: run for run in self._run_list()}
        return self._runs

    @property
    def experiments(self) -> list[Experiment]:
        # In the order they were added.
        with self._lock:
            return list(self._experiments.values())

    @property
    def runs(self) -> list[Run]:
        """Every run, deleted ones included, in the order they were added."""
        with self._lock:
            return self._run_list()

    def _run_list(self) -> list[Run]:
        """Every run as an object; runs read as columns are made in one pass, and held."""
        if isinstance(self._runs, _RunsById):
            return self._runs.store.hold_all()
        return list(self._runs.values())

    def __repr__(self) -> str:
        with self._lock:
            return f"<Workspace: {len(self._experiments)} experiments, {len(self._runs)} runs>"

    # -- saving and loading --------------------------------------------------------------------

    @_locked
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the workspace as JSON Lines, every history whole; a temporary file is renamed over
        ``path`` at the end (a file there keeps its permissions; a symbolic link there keeps pointing
        to it). Writes wait until the save is done, so the file holds one state of the workspace."""
        write_jsonl(
            path,
            (experiment_to_record(experiment) for experiment in self._experiments.values()),
            self._run_records(),
            active_experiment_id=self._active_experiment_id,
            last_active_run_id=self._last_active_run_id,
        )

    def _run_records(self) -> Iterator[dict[str, Any]]:
        """Every run as a record; the histories a store keeps are read from it, a chunk of runs at a time."""
        for chunk in self._run_chunks():
            # Runs taken from other workspaces may keep their histories in other stores.
            sources: dict[int, tuple[HistorySource, list[str]]] = {}
            for run in chunk:
                if run.data.stored is not None:
                    source = run.data.stored.source
                    sources.setdefault(id(source), (source, []))[1].append(run.data.stored.run_id)
            stored: dict[str, dict[str, list[Metric]]] = {}
            for source, run_ids in sources.values():
                stored.update(source.histories(run_ids))
            for run in chunk:
                if run.data.stored is None:
                    yield run_to_record(run)
                else:
                    # A key logged to since the load holds its whole history here.
                    kept = stored.get(run.data.stored.run_id, {})
                    yield run_to_record(run, {**kept, **run.data.histories})

    def _run_chunks(self) -> Iterator[list[Run]]:
        """Every run, ``_SAVE_CHUNK`` at a time; runs read as columns are made a chunk at a time and not
        kept."""
        if isinstance(self._runs, dict):
            runs = list(self._runs.values())
            for start in range(0, len(runs), _SAVE_CHUNK):
                yield runs[start : start + _SAVE_CHUNK]
            return
        import numpy as np

        store = self._runs.store
        for start in range(0, len(store.runs), _SAVE_CHUNK):
            yield store.runs_at(np.arange(start, min(start + _SAVE_CHUNK, len(store.runs))))

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, progress: bool | None = None, **options: Any) -> Workspace:
        """A workspace from any source runql reads: a file :meth:`save` wrote (JSON Lines), an MLflow
        ``mlruns`` folder, an MLflow database (a ``.db`` file or a database URL), a tracking URI or a
        Parquet run table ``runql export`` wrote (``runql[parquet]``).

        :func:`runql.sources.source_kind` says which reader is used; a folder holding an ``mlruns``
        folder (a project checkout) is read as that ``mlruns``. ``progress`` shows a progress bar
        while an MLflow store is read (None: when stderr is a terminal). ``options`` go to the
        :class:`Workspace` (``profile=...``).
        """
        with _without_credentials(path):
            kind = source_kind(path)
            if kind == "mlflow-db":
                return cls.from_mlflow_db(path, progress=progress, **options)
            if kind == "mlflow":
                return cls.from_mlflow(os.fspath(path), progress=progress, **options)
            if kind == "mlflow-dir":
                return cls.from_mlflow_dir(path, progress=progress, **options)
            if kind == "parquet":
                from runql.sources.run_table import read_run_table  # numpy, pandas and pyarrow

                return cls._from_store(read_run_table(path), options)
            return cls._from_store(read_jsonl(path), options)

    @classmethod
    def from_mlflow_dir(
        cls, path: str | os.PathLike[str] = "mlruns", *, progress: bool | None = None, **options: Any
    ) -> Workspace:
        """An MLflow file store folder (``mlruns``), read without MLflow (``runql[mlflow-files]``).

        Every experiment and run, deleted ones included. ``path`` is the ``mlruns`` folder (or a
        ``file:`` URI, or a folder that holds ``mlruns``). ``progress``: show a progress bar (None:
        when stderr is a terminal). ``options`` go to the :class:`Workspace`. Raises
        :class:`StoreError` naming the file at fault when the store is corrupt or partial.
        """
        records = read_mlflow_dir(path, progress=progress)
        # The same folder's model registry and logged models.
        records.registry = read_registry_dir(Path(records.where))
        records.logged_models = read_logged_models_dir(Path(records.where))
        return cls._from_store(records, options)

    @classmethod
    def from_mlflow_db(
        cls,
        url: str | os.PathLike[str],
        *,
        progress: bool | None = None,
        histories: bool = False,
        **options: Any,
    ) -> Workspace:
        """An MLflow tracking database (``sqlite:///mlflow.db``, PostgreSQL, MySQL), read with
        SQLAlchemy (``runql[mlflow-db]``).

        ``url`` is a SQLAlchemy URL (``postgresql://user:pw@host/db``, ``mysql+pymysql://...``) or the
        path of a SQLite file. Each run's latest metric values are those of ``latest_metrics``, the
        table MLflow searches. Metric histories, by far the largest table, stay in the database and
        are read from it when asked for (:meth:`get_metric_history`, ``run.data.history(key)``, a plot,
        :meth:`save`), so the database must stay where it is; a point logged here after the load is
        added to the history read. ``histories=True`` reads every history now instead (slower, and
        several times the memory), for a workspace that outlives the database. A server needs its
        driver too.
        """
        with _without_credentials(url):
            return cls._from_store(read_mlflow_db(url, progress=progress, histories=histories), options)

    @classmethod
    def from_mlflow(
        cls,
        tracking_uri: str | None = None,
        experiment_ids: Iterable[str | int] | None = None,
        with_history: bool = False,
        *,
        progress: bool | None = None,
        **options: Any,
    ) -> Workspace:
        """Any MLflow tracking URI, through ``mlflow.MlflowClient`` (``runql[mlflow]``).

        ``tracking_uri`` defaults to MLflow's own default (``MLFLOW_TRACKING_URI``, then the local
        store). ``experiment_ids`` limits the load to those experiments. With ``with_history``, every
        metric history is fetched too; otherwise a history is read from the server when first asked for
        (a history function, ``get_metric_history``, a plot).
        """
        with _without_credentials(tracking_uri):
            return cls._from_store(
                read_mlflow(tracking_uri, experiment_ids, with_history, progress=progress), options
            )

    @classmethod
    def _from_store(cls, records: StoreRecords, options: dict[str, Any]) -> Workspace:
        """The workspace a reader's records make; a record that cannot be built is a :class:`StoreError`
        naming the store."""
        options.setdefault("active_experiment_id", records.active_experiment_id)
        options.setdefault("last_active_run_id", records.last_active_run_id)
        # The record being built, so that an error names its line (records.place).
        building: list[tuple[str, int]] = [("experiment", -1)]

        def noted(kind: str, items: list[Any]) -> Iterator[Any]:
            for index, item in enumerate(items):
                building[0] = kind, index
                yield item

        try:
            workspace = cls(
                noted("experiment", records.experiments),
                noted("run", records.runs),
                history_source=records.histories,
                registry=records.registry,
                logged_models=records.logged_models,
                **options,
            )
        except (KeyError, TypeError, ValueError) as error:
            raise StoreError(str(error), where=records.place(*building[0])) from None
        if records.columns is not None:
            workspace._hold_columns(records.columns)
        return workspace

    def _hold_columns(self, store: ColumnFirstRuns) -> None:
        """Hold runs read as columns: the column store is the runs, which are made from it when asked."""
        from runql.engines.columnar import StringColumn

        column = store.attributes["experiment_id"]
        assert isinstance(column, StringColumn)
        for experiment_id in column.values:
            if experiment_id not in self._experiments:  # as _add_run does for a run record
                self._add_experiment(Experiment(experiment_id, name=experiment_id))
        self._runs = _RunsById(store)
        self._store = store

    # -- lookups -------------------------------------------------------------------------------

    def _registry(self) -> Registry:
        return self._model_registry

    def _logged_models(self, experiment_ids: Sequence[str]) -> list[LoggedModel]:
        wanted = set(experiment_ids)
        return [m for m in self._logged_model_list if m.experiment_id in wanted]

    @_locked
    def get_experiment(self, experiment_id: str | int) -> Experiment:
        experiment = self._experiments.get(str(experiment_id))
        if experiment is None:
            raise NotFoundError(f"No Experiment with id={experiment_id} exists")
        return experiment

    @_locked
    def get_experiment_by_name(self, name: str) -> Experiment | None:
        for experiment in self._experiments.values():
            if experiment.name == name:
                return experiment
        return None

    @_locked
    def get_run(self, run_id: str) -> Run:
        run = self._runs.get(run_id)
        if run is None:
            raise NotFoundError(f"Run '{run_id}' not found")
        return run

    @_locked
    def key_sets(self, experiment_ids: Iterable[str], lifecycle_stages: Iterable[str]) -> KeySets:
        store = self._columns()
        within = store.among("experiment_id", set(experiment_ids)) & store.among(
            "lifecycle_stage", set(lifecycle_stages)
        )
        return KeySets(**store.key_names(within))

    @_locked
    def _present_keys(
        self, experiment_ids: Iterable[str], lifecycle_stages: Iterable[str], named: Sequence[Key]
    ) -> KeySets:
        store = self._columns()
        within = store.among("experiment_id", set(experiment_ids)) & store.among(
            "lifecycle_stage", set(lifecycle_stages)
        )
        return KeySets(**store.present_keys(within, named))

    @_locked
    def run_ids_starting(self, prefix: str, limit: int = 6) -> list[str]:
        return [run_id for run_id in self._runs if prefix and run_id.startswith(prefix)][:limit]

    @_locked
    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        # A run read from a tracking database reads its histories from there.
        run = self.get_run(run_id)
        return run.data.history(key, run.info.start_time or 0)

    @_locked
    def set_experiment(
        self, experiment_name: str | None = None, experiment_id: str | None = None
    ) -> Experiment:
        """Make an experiment the active one (created when named and missing), as MLflow does."""
        if (experiment_name is None) == (experiment_id is None):
            raise ValueError("Must specify exactly one of: `experiment_id` or `experiment_name`.")
        if experiment_id is not None:
            experiment = self._experiments.get(str(experiment_id))
            if experiment is None:
                raise NotFoundError(f"Experiment with ID '{experiment_id}' does not exist.")
        else:
            assert experiment_name is not None
            found = self.get_experiment_by_name(experiment_name)
            experiment = found or self.get_experiment(self.create_experiment(experiment_name))
        if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
            raise ValueError(
                f"Cannot set a deleted experiment {experiment.name!r} as the active experiment. "
                "You can restore the experiment, or permanently delete the experiment to create a new one."
            )
        self._active_experiment_id = experiment.experiment_id
        return experiment

    @property
    def active_experiment_id(self) -> str:
        """The experiment searches use when none is named ("0", MLflow's Default, until one is set)."""
        return self._active_experiment_id or DEFAULT_EXPERIMENT_ID

    @_locked
    def last_active_run(self) -> Run | None:
        """The run most recently created here, or recorded as last active in the saved workspace; in
        a workspace read from a store that records none (an mlruns folder, a tracking database), the
        most recently started run of the active experiment, as ``mlflow.last_active_run()`` finds the
        run a script just logged."""
        if self._last_active_run_id is not None:
            return self._runs.get(self._last_active_run_id)
        store = self._columns()
        row = store.last_started(
            store.among("experiment_id", {self.active_experiment_id})
            & store.among("lifecycle_stage", {LifecycleStage.ACTIVE})
        )
        return None if row is None else store.runs[row]

    # -- search --------------------------------------------------------------------------------

    @_locked
    def _search_experiments(
        self,
        view_type: int | str | ViewType,
        filter_string: str | None,
        order_by: Sequence[str] | str | None,
        profile: str | Profile | None,
    ) -> list[Experiment]:
        return super()._search_experiments(view_type, filter_string, order_by, profile)

    def _columns(self) -> ColumnarRuns:
        """The column store the searches run on, built on first use after runs were added."""
        if self._store is None:
            # numpy and pandas are imported with the first search, not with runql.
            from runql.engines.columnar import ColumnarRuns

            self._store = ColumnarRuns(self._run_list())
        return self._store

    def _changed(self, run: Run, data: bool = True) -> None:
        """Re-read ``run`` into the column store after it was edited in place (``data=False``: only
        its attributes changed)."""
        if self._store is not None:
            row = self._store.row_of(run.info.run_id)
            assert row is not None
            try:
                self._store.refresh(row, data)
            except BaseException:
                # Never a store that disagrees with the runs: the next search builds it anew.
                self._store = None
                raise

    def _prepare(
        self, filter_string: str | None, order_by: OrderBy, profile: str | Profile | None
    ) -> CompiledQuery:
        return self._compile(filter_string, profile, "runs", order_by)

    def _compiled(self, query: CompiledQuery) -> CompiledQuery:
        return query

    def _reading(self) -> AbstractContextManager[None]:
        # The searches hold the workspace's lock from start to end (_locked, below).
        return nullcontext()

    def _page(
        self,
        reading: None,
        query: CompiledQuery,
        experiment_ids: list[str],
        view: ViewType,
        page_token: str | bytes | None,
        size: int | None,
        paged: bool,
    ) -> Page:
        from runql.engines.columnar import Selection

        start = parse_page_token(page_token)
        store = self._columns()
        within = store.among("experiment_id", experiment_ids) & store.among("lifecycle_stage", view.stages)
        stop = None if size is None else start + size
        # Only the rows up to the page's end need their order; every selected row still counts for
        # the next page token and for the keys the selection holds.
        rows = store.search(query.query.filter, query.query.order_by, within, first=stop)
        return _Selected(
            Selection(store, rows),
            Selection(store, rows[start:stop]),
            next_page_token(start, size, len(rows)),
        )

    search_runs = _locked(RunStore.search_runs)
    search_runs_paged = _locked(RunStore.search_runs_paged)

    # -- editing experiments ---------------------------------------------------------------------

    @_locked
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: Mapping[str, Any] | None = None
    ) -> str:
        """Create an experiment and return its id (the next free integer, as MLflow's SQL store does)."""
        if not isinstance(name, str) or not name:
            raise ValueError("Invalid experiment name: the name must be a non-empty string")
        if self.get_experiment_by_name(name) is not None:
            raise ValueError(f"Experiment '{name}' already exists.")
        numbers = [int(i) for i in self._experiments if i.isdigit()]
        experiment_id = str(max(numbers, default=0) + 1)
        now = _now_ms()
        self._add_experiment(
            experiment_from_record(
                {
                    "experiment_id": experiment_id,
                    "name": name,
                    "artifact_location": artifact_location,
                    "tags": dict(tags or {}),
                    "creation_time": now,
                    "last_update_time": now,
                }
            )
        )
        return experiment_id

    @_locked
    def rename_experiment(
        self, experiment_id: str, new_name: str, profile: str | Profile | None = None
    ) -> None:
        """Rename an experiment; refused by profiles that cannot (Azure ML)."""
        from runql.profiles.catalog import get_profile

        chosen = self.profile if profile is None else profile
        record = get_profile(chosen, "experiments") if isinstance(chosen, str) else chosen
        if not record.rename_experiments:
            raise UnsupportedQueryError(
                [
                    Diagnostic(
                        code="unsupported-rename",
                        message=f"the {record.name} profile cannot rename experiments",
                        hint="create a new experiment with the new name instead",
                    )
                ],
                profile=record.name,
            )
        if not isinstance(new_name, str) or not new_name:
            raise ValueError("Invalid experiment name: the name must be a non-empty string")
        experiment = self.get_experiment(experiment_id)
        if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
            raise ValueError(f"Cannot rename a non-active experiment {experiment_id!r}")
        other = self.get_experiment_by_name(new_name)
        if other is not None and other is not experiment:
            raise ValueError(f"Experiment '{new_name}' already exists.")
        experiment.name = new_name
        experiment.last_update_time = _now_ms()

    @_locked
    def _set_experiment_stage(self, experiment_id: str, stage: str) -> None:
        experiment = self.get_experiment(experiment_id)
        if experiment.lifecycle_stage == stage:
            raise ValueError(f"Experiment {experiment_id!r} is already {stage}")
        experiment.lifecycle_stage = stage
        experiment.last_update_time = _now_ms()
        # As MLflow's SQL store does: deleting or restoring an experiment does the same to its runs.
        store = self._columns()
        for row in store.among("experiment_id", {experiment.experiment_id}).nonzero()[0].tolist():
            run = store.runs[row]
            run.info.lifecycle_stage = stage
            self._changed(run, data=False)

    def delete_experiment(self, experiment_id: str) -> None:
        """Mark an experiment deleted, and its runs with it, as MLflow's SQL store does for
        ``MlflowClient.delete_experiment``; refused (ValueError) when it is deleted already."""
        self._set_experiment_stage(str(experiment_id), LifecycleStage.DELETED)

    def restore_experiment(self, experiment_id: str) -> None:
        """Make a deleted experiment active again, and its runs with it (``MlflowClient.restore_experiment``);
        refused (ValueError) when it is active already."""
        self._set_experiment_stage(str(experiment_id), LifecycleStage.ACTIVE)

    # -- editing runs ----------------------------------------------------------------------------

    @_locked
    def create_run(
        self,
        experiment_id: str | None = None,
        start_time: int | None = None,
        tags: Mapping[str, Any] | None = None,
        run_name: str | None = None,
    ) -> Run:
        """Start a RUNNING run (in the active experiment by default); it becomes the last active run."""
        experiment = self.get_experiment(
            self.active_experiment_id if experiment_id is None else experiment_id
        )
        if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
            raise ValueError(f"The experiment {experiment.experiment_id!r} must be in the 'active' state")
        run_tags = {_key(k, "tag"): str(v) for k, v in (tags or {}).items()}
        name = check_text(run_name, "run_name") or run_tags.get(RUN_NAME_TAG) or f"run-{uuid.uuid4().hex[:8]}"
        run_tags[RUN_NAME_TAG] = name
        run_id = uuid.uuid4().hex
        info = RunInfo(
            run_id=run_id,
            experiment_id=experiment.experiment_id,
            run_name=name,
            user_id=run_tags.get("mlflow.user") or _current_user(),
            status=RunStatus.RUNNING,
            start_time=_now_ms() if start_time is None else check_int(start_time, "start_time"),
            artifact_uri=(
                f"{experiment.artifact_location.rstrip('/')}/{run_id}/artifacts"
                if experiment.artifact_location
                else None
            ),
        )
        run = Run(info, RunData(tags=run_tags))
        self._run_objects()[run_id] = run
        self._store = None
        self._last_active_run_id = run_id
        return run

    def _active_run(self, run_id: str) -> Run:
        run = self.get_run(run_id)
        if run.info.lifecycle_stage != LifecycleStage.ACTIVE:
            raise ValueError(f"The run {run_id} must be in the 'active' state. Current state is deleted.")
        return run

    @_locked
    def log_metric(
        self, run_id: str, key: str, value: float, timestamp: int | None = None, step: int | None = None
    ) -> None:
        """Log one point of a metric, as ``MlflowClient.log_metric`` (``timestamp`` now and ``step`` 0 by
        default); the run's value of the metric is its latest point by MLflow's rule (greatest step, then
        timestamp). Refused for a deleted run, a value that is not a number, a key that is not a string,
        and a step or timestamp beyond MLflow's BIGINT."""
        run = self._active_run(run_id)
        point = Metric(
            _key(key, "metric"),
            metric_value(value),
            _now_ms() if timestamp is None else check_int(timestamp, "timestamp", metric=True),
            0 if step is None else check_int(step, "step", metric=True),
        )
        run.data.log(point, run.info.start_time or 0)
        self._changed(run)

    @_locked
    def log_param(self, run_id: str, key: str, value: Any) -> None:
        """Log a param; as in MLflow, a param cannot change once logged."""
        run = self._active_run(run_id)
        text = str(value)
        old = run.data.params.get(_key(key, "param"))
        if old is not None and old != text:
            raise ValueError(
                f"Changing param values is not allowed. Param with key='{key}' was already logged "
                f"with value='{old}' for run ID='{run_id}'. Attempted logging new value '{text}'."
            )
        run.data.params[key] = text
        self._changed(run)

    @_locked
    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        """Set a run's tag to ``str(value)``, replacing any value, as ``MlflowClient.set_tag``; the tag
        ``mlflow.runName`` also renames the run. Refused for a deleted run and a key that is not a string."""
        run = self._active_run(run_id)
        text = str(value)
        run.data.tags[_key(key, "tag")] = text
        if key == RUN_NAME_TAG:
            run.info.run_name = text
        self._changed(run)

    @_locked
    def set_terminated(
        self, run_id: str, status: str = RunStatus.FINISHED, end_time: int | None = None
    ) -> None:
        """Set a run's ``status`` (one of MLflow's five) and end time, as MlflowClient.set_terminated."""
        if status not in RunStatus.ALL:
            raise ValueError(f"unknown run status {status!r}: expected one of {', '.join(RunStatus.ALL)}")
        run = self.get_run(run_id)
        # Everything that can fail comes before the first change.
        end = _now_ms() if end_time is None else check_int(end_time, "end_time")
        run.info.status = status
        run.info.end_time = end
        self._changed(run, data=False)

    def delete_run(self, run_id: str) -> None:
        """Mark a run deleted, as ``MlflowClient.delete_run``: searches then find it only with
        ``run_view_type`` DELETED_ONLY or ALL, and it takes no more metrics, params or tags."""
        self._set_run_stage(run_id, LifecycleStage.DELETED)

    def restore_run(self, run_id: str) -> None:
        """Make a deleted run active again, as ``MlflowClient.restore_run``."""
        self._set_run_stage(run_id, LifecycleStage.ACTIVE)

    @_locked
    def _set_run_stage(self, run_id: str, stage: str) -> None:
        run = self.get_run(run_id)
        run.info.lifecycle_stage = stage
        self._changed(run, data=False)

    # -- comparing -------------------------------------------------------------------------------

    @_locked
    def compare_runs(self, run_ids: Sequence[str], only_differences: bool = False) -> Any:
        """One row per param, metric and tag key, one column per run (see :func:`runql.compare_runs`)."""
        return compare_runs(self, run_ids, only_differences)

    def plot_metric_history(
        self, run_ids: Sequence[str], key: str, out: str | os.PathLike[str] | None = None
    ) -> Any:
        """The histories of ``key`` for several runs on one chart (``runql[plot]``)."""
        return plot_metric_history(self, run_ids, key, out)

    # -- artifacts -------------------------------------------------------------------------------

    def _artifact_root(self, run_id: str) -> Path:
        run = self.get_run(run_id)
        if not run.info.artifact_uri:
            raise NotFoundError(f"Run '{run_id}' has no artifact location")
        return local_path(run.info.artifact_uri)

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        """The files and folders directly under ``path`` in the run's artifacts, sorted by path."""
        root = self._artifact_root(run_id)
        folder = _inside(root, path or "")
        if not folder.is_dir():
            return []
        infos = []
        for entry in folder.iterdir():
            relative = entry.relative_to(root).as_posix()
            is_dir = entry.is_dir()
            infos.append(FileInfo(relative, is_dir, None if is_dir else entry.stat().st_size))
        return sorted(infos, key=lambda info: info.path)

    def download_artifacts(
        self,
        run_id: str | None = None,
        artifact_path: str | None = None,
        dst_path: str | os.PathLike[str] | None = None,
        artifact_uri: str | None = None,
    ) -> str:
        """Copy an artifact (file or folder) to ``dst_path`` (a new temporary folder by default) and
        return its local path. ``artifact_uri`` may be ``runs:/<run_id>/<path>`` instead."""
        if artifact_uri is not None:
            if run_id is not None or artifact_path is not None:
                raise ValueError("pass either artifact_uri, or run_id and artifact_path, not both")
            run_id, artifact_path = parse_runs_uri(artifact_uri)
        if run_id is None:
            raise ValueError("download_artifacts needs run_id (and artifact_path) or artifact_uri")
        source = self.resolve_uri(f"runs:/{run_id}/{artifact_path or ''}")
        if not source.exists():
            raise NotFoundError(f"No artifact {artifact_path!r} in run '{run_id}'")
        destination = Path(tempfile.mkdtemp(prefix="runql-artifacts-") if dst_path is None else dst_path)
        target = destination / (artifact_path or "").strip("/") if artifact_path else destination
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        return str(target)

    def resolve_uri(self, uri: str) -> Path:
        """The local path a ``runs:/<run_id>/<path>`` URI (or a local artifact URI) names."""
        if uri.startswith("runs:"):
            run_id, artifact_path = parse_runs_uri(uri)
            return _inside(self._artifact_root(run_id), artifact_path)
        return local_path(uri)


class _RunsById(Mapping[str, Run]):
    """The runs of a column store by id, each made from the columns when first looked up, then held."""

    def __init__(self, store: ColumnFirstRuns) -> None:
        self.store = store

    def __getitem__(self, run_id: str) -> Run:
        row = self.store.row_of(run_id) if isinstance(run_id, str) else None
        if row is None:
            raise KeyError(run_id)
        return self.store.hold(row)

    def __contains__(self, run_id: object) -> bool:
        return isinstance(run_id, str) and self.store.row_of(run_id) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.store.run_ids())

    def __len__(self) -> int:
        return len(self.store.runs)


class _Selected(Page):
    """A page of the column store's answer: its runs are read, or its DataFrame built from the columns,
    only when asked for; whether a key is held is asked of every selected run, not only the page's."""

    def __init__(self, selected: Selection, page: Selection, next_page_token: str | None) -> None:
        super().__init__(page, next_page_token)
        self._selected = selected
        self._page = page

    def listed(self) -> list[Run]:
        return self._page[:]

    def frame(self) -> pd.DataFrame:
        return self._page.frame()

    def holds(self, key: Key) -> bool:
        return self._selected.holds(key)


# The readers as functions, as runql exports them: runql.from_mlflow_dir(path) is
# Workspace.from_mlflow_dir(path).
from_mlflow_dir = Workspace.from_mlflow_dir
from_mlflow_db = Workspace.from_mlflow_db
from_mlflow = Workspace.from_mlflow


@contextmanager
def _without_credentials(source: str | os.PathLike[str] | None) -> Iterator[None]:
    """Errors of a reader of ``source``, with the password of any URL in them hidden (see
    :mod:`runql.common.redact`); the original is not chained, since a traceback would print it."""
    url = os.fspath(source) if source is not None else None
    try:
        yield
    except StoreError as error:
        if redact(str(error), url) == str(error):
            raise
        raise StoreError(
            redact(error.message, url), where=redact(error.where, url), code=error.code
        ) from None
    except MissingDependencyError as error:
        if redact(str(error), url) == str(error):
            raise
        raise MissingDependencyError(redact(str(error), url)) from None


def parse_runs_uri(uri: str) -> tuple[str, str]:
    """``runs:/<run_id>/<path>`` → (run_id, path)."""
    if not uri.startswith("runs:"):
        raise ValueError(f"not a runs:/ URI: {uri!r}")
    run_id, _, path = uri[len("runs:") :].lstrip("/").partition("/")
    if not run_id:
        raise ValueError(f"{uri!r} names no run: expected runs:/<run_id>/<path>")
    return run_id, path


def local_path(uri: str) -> Path:
    """The folder a local artifact location names: a path or a ``file:`` URI. Remote schemes are refused."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(url2pathname(unquote(parsed.path)))
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and os.name == "nt"):
        return Path(uri)
    raise ValueError(
        f"artifacts at {parsed.scheme}:// locations are remote ({redact(uri)}); runql reads local artifact "
        "locations only (a folder path or a file:// URI). Download them with that store's client first."
    )


def _inside(root: Path, relative: str) -> Path:
    parts = PurePosixPath(relative.replace("\\", "/")).parts
    if any(part == ".." for part in parts) or relative.startswith("/"):
        raise ValueError(f"artifact path {relative!r} must stay inside the run's artifacts")
    return root.joinpath(*parts)


def _current_user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None
