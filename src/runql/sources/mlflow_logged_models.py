"""The logged models of an MLflow tracking database (MLflow 3's models, each with its params, tags and
metrics), read whole: one statement per table, ``logged_models``, ``logged_model_params``,
``logged_model_tags`` and ``logged_model_metrics``.

Every model is read, deleted ones included (``lifecycle_stage`` says which; a search leaves them out), and
every point of every metric, as MLflow's SQL store keeps them: a metric logged on a dataset carries the
dataset's name and digest, and the run that logged it. A database from before MLflow 3 (no
``logged_models`` table) has none.

A row MLflow would not write (a value of the wrong type, a NULL id, a status MLflow has no name for, a
param, tag or metric of a model the database does not hold) is a :class:`StoreError` naming the table and
the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from runql.common.redact import shown_value
from runql.errors import StoreError
from runql.model.logged_models import LOGGED_MODEL_STATUSES, LoggedModel, LoggedModelMetric
from runql.sources import rows as check

__all__ = ["TABLES", "read_logged_models"]

MODELS = "logged_models"
PARAMS = "logged_model_params"
TAGS = "logged_model_tags"
METRICS = "logged_model_metrics"
_MODEL_COLUMNS = (
    "model_id",
    "experiment_id",
    "name",
    "artifact_location",
    "creation_timestamp_ms",
    "last_updated_timestamp_ms",
    "status",
    "lifecycle_stage",
    "model_type",
    "source_run_id",
    "status_message",
)
_METRIC_COLUMNS = (
    "model_id",
    "metric_name",
    "metric_timestamp_ms",
    "metric_step",
    "metric_value",
    "run_id",
    "dataset_name",
    "dataset_digest",
)
_NOUN = "model"


# The most ids one statement names, well within every database's count of bound parameters.
_IDS_PER_STATEMENT = 1000


TABLES = (MODELS, PARAMS, TAGS, METRICS)
"""The tables the logged models are read from."""


def read_logged_models(
    sa: Any,
    connection: Any,
    where: str,
    model_ids: Sequence[str] | None = None,
    tables: check.Reflected | None = None,
) -> list[LoggedModel]:
    """Every logged model of the database ``connection`` reaches, deleted ones included, each with its
    params, tags and every point of its metrics (``where`` names the database in errors); only those of
    ``model_ids`` when they are given. ``tables`` are :data:`TABLES` as :func:`rows.reflect` reflected
    them, when the caller holds them."""
    if tables is None:
        tables = check.reflect(sa, connection, TABLES)
    if MODELS not in tables:
        return []

    def rows(table: str, columns: Sequence[str], order: Sequence[str]) -> list[Sequence[Any]]:
        if table not in tables:
            return []
        found = tables[table]
        missing = [c for c in columns if c not in found.c]
        if missing:
            raise StoreError(
                f"table {table!r} lacks column{'s' if len(missing) > 1 else ''} {', '.join(missing)} of "
                "MLflow's schema",
                where=where,
                code="missing-table",
            )
        query = sa.select(*(found.c[c] for c in columns)).order_by(*(found.c[c] for c in order))
        queries = [query]
        if model_ids is not None:
            named = sorted(set(model_ids))
            queries = [
                query.where(found.c.model_id.in_(named[start : start + _IDS_PER_STATEMENT]))
                for start in range(0, len(named), _IDS_PER_STATEMENT)
            ]
        try:
            return [row for each in queries for row in connection.execute(each)]
        except (sa.exc.SQLAlchemyError, UnicodeDecodeError) as error:
            if not _undecodable(error):
                raise
            raise StoreError("text that is not UTF-8", where=f"{where}, table {table}") from None

    models: dict[str, LoggedModel] = {}
    for row in rows(MODELS, _MODEL_COLUMNS, ("creation_timestamp_ms", "model_id")):
        try:
            model = _model(row)
            if model.model_id in models:
                raise ValueError(f"model_id {model.model_id!r} is held by more than one row")
        except ValueError as error:
            raise check.bad_row(where, MODELS, row[0], error, _NOUN) from None
        models[model.model_id] = model

    for table, part in ((PARAMS, "param"), (TAGS, "tag")):
        key_column, value_column = f"{part}_key", f"{part}_value"
        for model_id, key, value in rows(
            table, ("model_id", key_column, value_column), ("model_id", key_column)
        ):
            owner = _owner(models, table, model_id, where)
            held = owner.params if part == "param" else owner.tags
            try:
                key = check.text(key, key_column)
                if key in held:
                    raise ValueError(f"{key_column} {key!r} is held by more than one row")
                held[key] = check.text(value, value_column)
            except ValueError as error:
                raise check.bad_row(where, table, model_id, error, _NOUN) from None

    order = ("model_id", "metric_name", "metric_timestamp_ms", "metric_step", "run_id")
    for row in rows(METRICS, _METRIC_COLUMNS, order):
        owner = _owner(models, METRICS, row[0], where)
        try:
            owner.metrics.append(_point(owner.model_id, row))
        except ValueError as error:
            raise check.bad_row(where, METRICS, row[0], error, _NOUN) from None
    return list(models.values())


def _owner(models: dict[str, LoggedModel], table: str, model_id: Any, where: str) -> LoggedModel:
    """The model a row of ``table`` belongs to; a row of a model that is not in ``logged_models`` (or of
    none: a NULL id) is an orphan MLflow's foreign keys keep out."""
    found = models.get(model_id) if type(model_id) is str else None
    if found is None:
        raise StoreError(
            f"the row's model_id {shown_value(model_id)} is no model of table {MODELS!r}",
            where=check.row_place(where, table, model_id, _NOUN),
        )
    return found


def _model(row: Sequence[Any]) -> LoggedModel:
    (
        model_id,
        experiment_id,
        name,
        artifact_location,
        created,
        updated,
        status,
        stage,
        model_type,
        source_run_id,
        status_message,
    ) = row
    return LoggedModel(
        experiment_id=check.experiment_id(experiment_id),
        model_id=_identifier(model_id, "model_id"),
        name=check.text(name, "name"),
        artifact_location=check.text(artifact_location, "artifact_location"),
        creation_timestamp=_time(created, "creation_timestamp_ms"),
        last_updated_timestamp=_time(updated, "last_updated_timestamp_ms"),
        model_type=check.optional_text(model_type, "model_type"),
        source_run_id=check.optional_text(source_run_id, "source_run_id"),
        status=_status(status),
        status_message=check.optional_text(status_message, "status_message"),
        lifecycle_stage=check.one_of(
            stage, check.LIFECYCLE_STAGES, check.LIFECYCLE_STAGES[0], "lifecycle_stage"
        ),
    )


def _point(model_id: str, row: Sequence[Any]) -> LoggedModelMetric:
    _, key, timestamp, step, value, run_id, dataset_name, dataset_digest = row
    return LoggedModelMetric(
        key=check.text(key, "metric_name"),
        # MLflow's schema lets the value be NULL (MLflow itself writes NaN as 0).
        value=None if value is None else check.number(value, "metric_value"),
        timestamp=check.integer(timestamp, "metric_timestamp_ms"),
        step=check.integer(step, "metric_step"),
        run_id=check.run_id(run_id, "run_id"),
        dataset_name=check.optional_text(dataset_name, "dataset_name"),
        dataset_digest=check.optional_text(dataset_digest, "dataset_digest"),
        model_id=model_id,
    )


def _identifier(value: object, column: str) -> str:
    """A model's id: text, never empty."""
    if type(value) is not str or not value:
        raise ValueError(f"{column} must be a model id (text), not {shown_value(value)}")
    return value


def _time(value: object, column: str) -> int:
    """A model's time: milliseconds, never NULL."""
    found = check.time_ms(value, column)
    if found is None:
        raise ValueError(f"{column} must be milliseconds since the epoch, not NULL")
    return found


def _status(value: object) -> str:
    """The status's name, from the integer MLflow stores (``LoggedModelStatus.to_int``)."""
    number = check.integer(value, "status")
    if not 0 <= number < len(LOGGED_MODEL_STATUSES):
        known = ", ".join(f"{i} ({name})" for i, name in enumerate(LOGGED_MODEL_STATUSES))
        raise ValueError(f"status must be one of {known}, not {number}")
    return LOGGED_MODEL_STATUSES[number]


def _undecodable(error: BaseException) -> bool:
    """Whether reading failed on text that is not UTF-8 (SQLite keeps any bytes in a text column, and
    its Python driver refuses them only when it reads them)."""
    found = getattr(error, "orig", None) or error
    return isinstance(found, UnicodeDecodeError) or str(found).startswith("Could not decode to UTF-8")
