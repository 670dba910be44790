"""A compiled logged-model query as SQL over MLflow's ``logged_model*`` tables: one SQLAlchemy ``Select`` of
model ids, in MLflow's order, one page of them.

It answers what :mod:`runql.engines.logged_models` answers in memory:

* Every clause becomes the models for which it is true and those for which it is false (as a run query
  does in :mod:`runql.engines.sql`); a model in neither lacks the key, and NOT swaps the two. A metric
  clause is true when some point of the metric (on one of the search's datasets) satisfies it, false when
  the model has points and none does. Params and tags are semi-joins on their tables; attributes are
  columns of ``logged_models`` (the status, an integer there, compared by its name).
* Values compare as every run query compares them (:func:`runql.engines.sql.compare_column`).
* An order_by metric reads its latest point (timestamp, step, then the least run id) on the entry's
  dataset; each key sorts missing values last, then creation_timestamp DESC and model_id ASC break ties.

Every value reaches the database as a bound parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from runql.common.optional import require
from runql.engines.logged_models import OrderEntry, needs_a_point
from runql.engines.semantics import logged_model_order
from runql.engines.sql import ColumnTruthSets, DistinctValues, storable
from runql.language.ast import Compare, Entity, In, IsNull, Key
from runql.language.attributes import ENTITY_NUMERIC_ATTRIBUTES
from runql.model.logged_models import LOGGED_MODEL_STATUSES, DatasetFilter
from runql.profiles.compiled import CompiledQuery

require("sqlalchemy", "mlflow-db", "runql.engines.sql_logged_models")

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.sql.elements import ColumnElement  # noqa: E402

__all__ = ["logged_models_select"]

Condition = ColumnElement[bool]

_TABLES = sa.MetaData()
MODELS = sa.Table(
    "logged_models",
    _TABLES,
    sa.Column("model_id", sa.String),
    sa.Column("experiment_id", sa.Integer),
    sa.Column("name", sa.String),
    sa.Column("artifact_location", sa.String),
    sa.Column("creation_timestamp_ms", sa.BigInteger),
    sa.Column("last_updated_timestamp_ms", sa.BigInteger),
    sa.Column("status", sa.Integer),
    sa.Column("lifecycle_stage", sa.String),
    sa.Column("model_type", sa.String),
    sa.Column("source_run_id", sa.String),
    sa.Column("status_message", sa.String),
)
METRICS = sa.Table(
    "logged_model_metrics",
    _TABLES,
    sa.Column("model_id", sa.String),
    sa.Column("metric_name", sa.String),
    sa.Column("metric_timestamp_ms", sa.BigInteger),
    sa.Column("metric_step", sa.BigInteger),
    sa.Column("metric_value", sa.Float(precision=53)),
    sa.Column("run_id", sa.String),
    sa.Column("dataset_name", sa.String),
    sa.Column("dataset_digest", sa.String),
)
# A param or a tag: its table, and the columns of its key and value.
_KEYED = {
    Entity.PARAM: sa.Table(
        "logged_model_params",
        _TABLES,
        sa.Column("model_id", sa.String),
        sa.Column("param_key", sa.String, key="key"),
        sa.Column("param_value", sa.String, key="value"),
    ),
    Entity.TAG: sa.Table(
        "logged_model_tags",
        _TABLES,
        sa.Column("model_id", sa.String),
        sa.Column("tag_key", sa.String, key="key"),
        sa.Column("tag_value", sa.String, key="value"),
    ),
}
_TIME_COLUMNS = {
    "creation_timestamp": "creation_timestamp_ms",
    "last_updated_timestamp": "last_updated_timestamp_ms",
}
_NUMBERS = ENTITY_NUMERIC_ATTRIBUTES["logged_models"]


@dataclass
class _Compiler(ColumnTruthSets):
    datasets: Sequence[DatasetFilter] = ()

    def clause(self, node: Compare | In | IsNull) -> tuple[Condition, Condition]:
        """The models for which ``node`` is true, and those for which it is false."""
        key = node.key
        if key.entity is Entity.ATTRIBUTE:
            column = _attribute(key)
            present: Condition = column.is_not(None)
            if isinstance(node, IsNull):
                return (present, ~present) if node.negated else (~present, present)
            holds = self.compare(node, column, number=key.name in _NUMBERS)
            return sa.and_(present, holds), sa.and_(present, sa.not_(holds))
        if not storable(key.name, self.dialect):  # no model has the key: every clause on it is unknown
            if isinstance(node, IsNull):
                return (sa.false(), sa.true()) if node.negated else (sa.true(), sa.false())
            return sa.false(), sa.false()
        if key.entity is Entity.METRIC:
            rows: Condition = sa.and_(
                METRICS.c.model_id == MODELS.c.model_id,
                METRICS.c.metric_name == key.name,
                METRICS.c.metric_value.is_not(None),
                self.on_datasets(),
            )
            value, scope = METRICS.c.metric_value, METRICS.c.metric_name == key.name
        else:
            table = _KEYED[key.entity]
            rows = sa.and_(
                table.c.model_id == MODELS.c.model_id, table.c.key == key.name, table.c.value.is_not(None)
            )
            value, scope = table.c.value, table.c.key == key.name
        held = sa.exists().where(rows)
        if isinstance(node, IsNull):
            return (held, sa.not_(held)) if node.negated else (sa.not_(held), held)
        holds = self.compare(node, value, number=key.entity is Entity.METRIC, scope=scope)
        if key.entity is Entity.METRIC:  # true when a point holds, false when points are there and none does
            some = sa.exists().where(rows, holds)
            return some, sa.and_(held, sa.not_(some))
        return sa.exists().where(rows, holds), sa.exists().where(rows, sa.not_(holds))

    def on_datasets(self) -> Condition:
        """A point logged on one of the search's datasets (any point, without them)."""
        if not self.datasets:
            return sa.true()
        return sa.or_(*(_on(d) for d in self.datasets))

    def order(self, sort_keys: Sequence[Any], entries: Sequence[OrderEntry]) -> list[Any]:
        terms: list[Any] = []
        for index, sort_key in enumerate(logged_model_order(sort_keys)):
            entry = entries[index] if index < len(entries) else OrderEntry("")
            value = self.sort_value(sort_key.key, entry)
            # Missing values last either way (SQLite and PostgreSQL read NULLS LAST); each value read once.
            terms.append((value.desc() if sort_key.descending else value.asc()).nulls_last())
        return terms

    def sort_value(self, key: Key, entry: OrderEntry) -> Any:
        if key.entity is Entity.METRIC:
            latest = sa.select(METRICS.c.metric_value).where(
                METRICS.c.model_id == MODELS.c.model_id, METRICS.c.metric_name == key.name
            )
            if entry.dataset_name:
                latest = latest.where(METRICS.c.dataset_name == entry.dataset_name)
            if entry.dataset_digest:
                latest = latest.where(METRICS.c.dataset_digest == entry.dataset_digest)
            ordered = latest.order_by(
                METRICS.c.metric_timestamp_ms.desc(),
                METRICS.c.metric_step.desc(),
                self.text(METRICS.c.run_id),
            )
            return ordered.limit(1).scalar_subquery()
        if key.entity is Entity.ATTRIBUTE:
            if key.name == "status":
                return MODELS.c.status  # by its code, as MLflow's store orders it
            column = _attribute(key)
            return column if key.name in _NUMBERS else self.text(column)
        table = _KEYED[key.entity]
        found = sa.select(table.c.value).where(table.c.model_id == MODELS.c.model_id, table.c.key == key.name)
        return self.text(found.limit(1).scalar_subquery())

    def text(self, column: Any) -> Any:
        """``column`` ordered by code point, as runql orders text everywhere."""
        return column.collate("C") if self.dialect == "postgresql" else column


def _on(dataset: DatasetFilter) -> Condition:
    named: Condition = METRICS.c.dataset_name == dataset.name
    if not dataset.has_digest:
        return named
    digest = METRICS.c.dataset_digest
    return sa.and_(named, digest.is_(None) if dataset.digest is None else digest == dataset.digest)


def _attribute(key: Key) -> Any:
    name = key.name
    if name == "experiment_id":
        return sa.cast(MODELS.c.experiment_id, sa.String)
    if name == "status":  # by name, as the extended profile compares it
        return sa.case(*((MODELS.c.status == code, text) for code, text in enumerate(LOGGED_MODEL_STATUSES)))
    return MODELS.c[_TIME_COLUMNS.get(name, name)]


def logged_models_select(
    compiled: CompiledQuery,
    dialect: str,
    *,
    experiment_ids: Sequence[int],
    datasets: Sequence[DatasetFilter] = (),
    entries: Sequence[OrderEntry] = (),
    limit: int | None = None,
    offset: int = 0,
    distinct_values: DistinctValues | None = None,
) -> sa.Select[Any]:
    """The ``model_id`` of every active logged model of ``experiment_ids`` that ``compiled`` selects, in
    MLflow's order (``entries``: the order_by as :func:`~runql.engines.logged_models.order_by_entries`
    read it), from ``offset`` on, at most ``limit``. On SQLite the connection needs
    :func:`~runql.engines.sql.register_sqlite_functions` for LIKE and RLIKE; on PostgreSQL an RLIKE reads
    the key's distinct values through ``distinct_values``."""
    if compiled.entity != "logged_models":
        raise ValueError("logged_models_select compiles logged-model queries")
    compiler = _Compiler(dialect, compiled.profile.database_patterns, distinct_values, datasets)
    conditions: list[Condition] = [
        MODELS.c.lifecycle_stage != "deleted",
        MODELS.c.experiment_id.in_(list(experiment_ids)),
    ]
    if compiled.query.filter is not None:
        conditions.append(compiler.true(compiled.query.filter))
    if needs_a_point(compiled, datasets):
        point = sa.and_(METRICS.c.model_id == MODELS.c.model_id, compiler.on_datasets())
        conditions.append(sa.exists().where(point))
    statement = (
        sa.select(MODELS.c.model_id)
        .where(*conditions)
        .order_by(*compiler.order(compiled.query.order_by, entries))
    )
    if limit is not None:
        statement = statement.limit(limit)
    return statement.offset(offset) if offset else statement
