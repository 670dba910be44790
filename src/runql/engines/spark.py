"""Run queries on Spark: a compiled query as PySpark ``Column`` expressions over a run table.

``pip install 'runql[spark]'``. A run table is a DataFrame with one row per run, in one of two layouts,
detected from its schema or named:

* ``flat``: the columns of ``mlflow.search_runs`` (``run_id``, ``experiment_id``, ``status``,
  ``artifact_uri``, ``start_time``, ``end_time``, ``lifecycle_stage``, ``run_name`` and ``user_id``
  when present) and one column per key: ``metrics.<key>`` (numbers), ``params.<key>`` and
  ``tags.<key>`` (strings);
* ``map``: ``metrics`` (``map<string,double>``), ``params`` and ``tags`` (``map<string,string>``) and
  the same attribute columns, as Databricks' MLflow experiment data source reads runs.

Either layout may have ``datasets``: ``array<struct<name, digest, context>>`` (``runql export`` writes
it). The answers are the reference evaluator's, in every profile; Spark's own rules differ, and each
difference is mapped here explicitly (docs/spark.md lists them):

* every clause is a Column that is true, false, or null exactly where the reference evaluator says
  true, false, or unknown (a key the run lacks); Spark's AND, OR and NOT are then SQL's three-valued
  logic, as the reference evaluator's are, and a run is selected only when its filter is true;
* a NaN metric satisfies only ``!=`` (Spark's NaN equals NaN and is greater than every number);
* LIKE is MLflow's pattern as a Java regular expression (no SQL LIKE, whose ``_``, ``%``, escapes and
  newlines mean otherwise), passed as a value, never spliced into SQL text;
* RLIKE is RE2's (:mod:`runql.common.regex`), not Java's backtracking regular expressions: the key's distinct
  values are read from the table (one Spark job per key), matched on the driver, and the matching ones
  (or the others, when they are fewer) are the list the clause tests membership in, within
  :data:`~runql.engines.semantics.MAX_SENT_VALUES` per query;
* ordering sorts each key by its tier (value, NaN, missing) and then by its value, and ends with the
  natural order (start_time DESC with missing times last, run_id ASC), so neither Spark's NaN order
  nor its null placement reaches the answer;
* a key no run has (no ``metrics.<key>`` column, no map entry) is a missing value, as in MLflow;
  times stored as timestamps compare as milliseconds since the epoch, as MLflow's do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from runql.common.optional import require

require("pyspark", "spark", "runql.engines.spark")

from pyspark.sql import Column, DataFrame  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402
from pyspark.sql import types as T  # noqa: E402

from runql.common.regex import regex_search  # noqa: E402
from runql.engines.semantics import TIER_MISSING, TIER_NAN, TIER_VALUE, SentValues  # noqa: E402
from runql.errors import EvaluationError, StoreError  # noqa: E402
from runql.language.ast import (  # noqa: E402
    Aggregate,
    And,
    Compare,
    Entity,
    Expr,
    In,
    IsNull,
    Key,
    Not,
    Op,
    Or,
    SortKey,
    assert_never,
    clauses,
)
from runql.language.ast import Literal as LiteralNode  # noqa: E402
from runql.language.attributes import RUN_NUMERIC_ATTRIBUTES  # noqa: E402
from runql.model.arguments import check_total, warn_at_caller  # noqa: E402
from runql.model.entities import RUN_NAME_TAG, ViewType  # noqa: E402
from runql.profiles.compiled import CompiledQuery, OrderBy, compile_quietly  # noqa: E402

__all__ = [
    "LAYOUTS",
    "SparkQuery",
    "compile_filter",
    "compile_order",
    "compile_query",
    "detect_layout",
    "like_regex",
    "search_runs",
]

Layout = Literal["flat", "map"]
LAYOUTS: tuple[Layout, ...] = ("flat", "map")

_MAPS = {Entity.METRIC: "metrics", Entity.PARAM: "params", Entity.TAG: "tags"}
# Without a run_name or user_id column (mlflow.search_runs has none), MLflow's tags hold them.
_ATTRIBUTE_TAGS = {"run_name": RUN_NAME_TAG, "user_id": "mlflow.user"}
_DATASETS = "datasets"
_COMPARE: dict[Op, Callable[[Column, Any], Column]] = {
    Op.EQ: lambda c, v: c == v,
    Op.NE: lambda c, v: c != v,
    Op.LT: lambda c, v: c < v,
    Op.LE: lambda c, v: c <= v,
    Op.GT: lambda c, v: c > v,
    Op.GE: lambda c, v: c >= v,
}
_LONG = range(-(2**63), 2**63)


@dataclass(frozen=True)
class SparkQuery:
    """A compiled query over one run table: ``filter`` (None: every run) and ``order``, the sort
    specification of MLflow's order (``df.where(filter).orderBy(*order)``)."""

    filter: Column | None
    order: tuple[Column, ...]


# -- the table ---------------------------------------------------------------------------------


def detect_layout(schema: T.StructType) -> Layout:
    """``map`` when ``metrics``, ``params`` or ``tags`` is a map column, else ``flat``."""
    maps = [f for f in schema.fields if f.name in _MAPS.values() and isinstance(f.dataType, T.MapType)]
    return "map" if maps else "flat"


def _quoted(name: str) -> str:
    """A column name as one identifier: a key's dots, spaces and backticks are part of its name."""
    return "`" + name.replace("`", "``") + "`"


def _table_error(message: str) -> StoreError:
    return StoreError(message, where="run table", code="not-a-store")


class _Table:
    """The columns of one run table, by exact name (Spark resolves names ignoring case by default,
    and ``metrics.ACC`` must not read ``metrics.acc``)."""

    def __init__(self, schema: T.StructType, layout: str | None) -> None:
        self.fields = {f.name: f.dataType for f in schema.fields}
        detected = detect_layout(schema)
        if layout is None:
            layout = detected
        elif layout not in LAYOUTS:
            raise ValueError(f"layout must be 'flat' or 'map', not {layout!r}")
        elif layout != detected:
            found = "map columns (metrics, params or tags)" if detected == "map" else "no map columns"
            raise _table_error(f"the {layout} layout was named, but the table has {found}")
        self.layout = layout
        if "run_id" not in self.fields:
            raise StoreError(
                "the table has no run_id column: a run table has one row per run, with its run_id",
                where="run table",
                code="missing-table",
            )

    def column(self, name: str) -> Column:
        return F.col(_quoted(name))

    def typed(self, name: str, number: bool) -> Column:
        """Column ``name`` as double (``number``) or string, or an error naming its type."""
        kind = self.fields[name]
        if isinstance(kind, T.NullType):
            return self.column(name).cast(T.DoubleType() if number else T.StringType())
        if number and isinstance(kind, T.NumericType):
            return self.column(name).cast(T.DoubleType())
        if not number and isinstance(kind, T.StringType):
            return self.column(name)
        raise _table_error(
            f"column {name!r} holds {kind.simpleString()}, and it must hold "
            + ("numbers" if number else "strings (MLflow stores params and tags as text)")
        )

    def map_value(self, entity: Entity, name: str) -> Column | None:
        """The value of key ``name`` in the map column of ``entity``, null when the run lacks it."""
        column = _MAPS[entity]
        kind = self.fields.get(column)
        if kind is None:
            return None
        number = entity is Entity.METRIC
        if not isinstance(kind, T.MapType) or not isinstance(kind.keyType, T.StringType):
            raise _table_error(f"column {column!r} holds {kind.simpleString()}, not a map with string keys")
        value_type = kind.valueType
        if not (isinstance(value_type, T.NumericType) if number else isinstance(value_type, T.StringType)):
            raise _table_error(
                f"column {column!r} holds {kind.simpleString()}: its values must be "
                + ("numbers" if number else "strings")
            )
        # try_element_at: a missing key is null, where ANSI mode makes map[key] an error.
        found = F.try_element_at(self.column(column), F.lit(name))
        return found.cast(T.DoubleType()) if number else found

    def key_value(self, entity: Entity, name: str) -> Column:
        """A metric, param or tag: null where the run lacks it, and for every run when none has it."""
        number = entity is Entity.METRIC
        if self.layout == "map":
            found = self.map_value(entity, name)
        else:
            flat = f"{_MAPS[entity]}.{name}"
            found = self.typed(flat, number) if flat in self.fields else None
        return found if found is not None else _null(number)

    def time(self, name: str) -> Column:
        """``start_time`` or ``end_time`` in milliseconds since the epoch (null when missing)."""
        if name not in self.fields:
            return _null(number=True)
        kind, column = self.fields[name], self.column(name)
        if isinstance(kind, T.TimestampType):
            return F.unix_millis(column)  # an instant: the session's time zone plays no part
        if isinstance(kind, (T.IntegralType, T.NullType)):
            return column.cast(T.LongType())
        if isinstance(kind, T.FractionalType):  # a pandas column of milliseconds, NaN where missing
            return F.when(~F.isnan(column), column.cast(T.DoubleType()))
        raise _table_error(
            f"column {name!r} holds {kind.simpleString()}: times must be timestamps (UTC instants) "
            "or milliseconds since the epoch"
        )

    def attribute(self, key: Key) -> Column:
        name = key.name
        if name == "duration":
            return self.time("end_time") - self.time("start_time")
        if name in ("start_time", "end_time"):
            return self.time(name)
        if name in self.fields:
            kind = self.fields[name]
            column = self.column(name)
            if isinstance(kind, T.StringType):
                return column
            if isinstance(kind, (T.IntegralType, T.NullType)):  # experiment ids kept as numbers
                return column.cast(T.StringType())
            raise _table_error(f"column {name!r} holds {kind.simpleString()}, and it must hold strings")
        if name in _ATTRIBUTE_TAGS:
            return self.key_value(Entity.TAG, _ATTRIBUTE_TAGS[name])
        return _null(number=name in RUN_NUMERIC_ATTRIBUTES)

    def value(self, key: Key) -> Column:
        if key.entity is Entity.ATTRIBUTE:
            return self.attribute(key)
        return self.key_value(key.entity, key.name)

    def datasets(self, field: str) -> Column:
        kind = self.fields.get(_DATASETS)
        element = kind.elementType if isinstance(kind, T.ArrayType) else None
        if not isinstance(element, T.StructType) or field not in element.fieldNames():
            raise StoreError(
                f"the table has no {_DATASETS} column of structs with a {field!r} field, so dataset "
                "clauses cannot be answered: runql export writes one "
                "(array<struct<name:string, digest:string, context:string>>)",
                where="run table",
                code="missing-table",
            )
        return self.column(_DATASETS)


def _null(number: bool) -> Column:
    return F.lit(None).cast(T.DoubleType() if number else T.StringType())


# -- LIKE ----------------------------------------------------------------------------------------


def like_regex(pattern: str, ignore_case: bool) -> str:
    """MLflow's LIKE ``pattern`` (:mod:`runql.engines.semantics`) as a Java regular expression for ``rlike``.

    Python's ``re.match`` anchors at the start, ``.`` there stops only at ``\\n`` (Java's ``.`` also
    stops at ``\\r``, ``\\u2028``...), and its ``$`` matches before one final ``\\n`` only; every
    character but a letter or digit is written as its code point, so none is an operator.
    """
    body = "".join(
        "[^\\n]*" if c == "%" else "[^\\n]" if c == "_" else c if c.isalnum() else f"\\x{{{ord(c):x}}}"
        for c in pattern
    )
    end = "" if pattern.endswith("%") else "\\n?\\z"
    return ("(?iu)" if ignore_case else "") + "\\A" + body + end


# -- the filter ----------------------------------------------------------------------------------


class _Compiler:
    def __init__(self, table: _Table, frame: DataFrame | None, source: str) -> None:
        self.table = table
        self.frame = frame
        self.sent = SentValues(source)
        # The distinct values read for each key, read once however many clauses match them.
        self.values_read: dict[tuple[Entity, str], list[str]] = {}

    def matching(
        self, key: Key, values: Callable[[DataFrame], DataFrame], node: Compare
    ) -> Callable[[Column], Column]:
        """A test of a present value of ``key`` for the RLIKE clause ``node`` (RE2's answer, whether
        negated or not): membership in the distinct values the pattern matches, or absence from those it
        does not match when they are fewer. ``values`` selects the key's values from the table, in one
        column ``value``."""
        if self.frame is None:
            raise ValueError(
                "RLIKE reads the distinct values of its key from the table: compile it with the "
                "DataFrame, not its schema"
            )
        search = regex_search(str(node.value.value))
        read = (key.entity, key.name)
        if read not in self.values_read:
            rows = values(self.frame).where(F.col("value").isNotNull()).distinct().collect()
            self.values_read[read] = [row[0] for row in rows]
        sent, matching = self.sent.split(self.values_read[read], search, node.span)
        if matching is not node.op.is_negated:
            return lambda value: value.isin(sent)
        return lambda value: ~value.isin(sent)

    def truth(self, expr: Expr) -> Column:
        """True, false, or null (unknown) for each run, as the reference evaluator's ``truth``."""
        match expr:
            case And(terms):
                return _fold(Column.__and__, [self.truth(t) for t in terms])
            case Or(terms):
                return _fold(Column.__or__, [self.truth(t) for t in terms])
            case Not(term):
                return ~self.truth(term)
            case Compare() | In() | IsNull():
                if expr.key.entity is Entity.DATASET:
                    return self.dataset(expr)
                return self.clause(expr)
            case _:
                assert_never(expr)

    def clause(self, node: Compare | In | IsNull) -> Column:
        key = node.key
        value = self.table.value(key)
        if isinstance(node, IsNull):
            return value.isNotNull() if node.negated else value.isNull()
        metric = key.entity is Entity.METRIC
        number = metric or (key.entity is Entity.ATTRIBUTE and key.name in RUN_NUMERIC_ATTRIBUTES)
        if isinstance(node, In):
            wanted = [_operand(v, number, metric) for v in node.values]
            found = value.isin(wanted)
            if metric:  # Spark's NaN is in a list holding NaN; MLflow's NaN is in no list
                found = F.when(F.isnan(value), F.lit(False)).otherwise(found)
            return ~found if node.negated else found
        if node.op in (Op.RLIKE, Op.NOT_RLIKE):
            # null where the run lacks the key: Spark's `null IN (...)` may be false
            test = self.matching(key, lambda df: df.select(value.alias("value")), node)
            return F.when(value.isNotNull(), test(value))
        if node.op.is_pattern:
            matched = value.rlike(like_regex(str(node.value.value), node.op in (Op.ILIKE, Op.NOT_ILIKE)))
            return ~matched if node.op.is_negated else matched
        operand = _operand(node.value, number, metric)
        if not metric:
            return _COMPARE[node.op](value, F.lit(operand))
        # MLflow compares floats as Python does: NaN on either side satisfies only !=.
        nan_result = F.lit(node.op is Op.NE)
        if operand != operand:
            return F.when(value.isNotNull(), nan_result)
        return F.when(F.isnan(value), nan_result).otherwise(_COMPARE[node.op](value, F.lit(operand)))

    def dataset(self, node: Compare | In | IsNull) -> Column:
        """Whether any dataset input satisfies the clause (IS NULL: none has the key): never null."""
        field = node.key.name
        inputs = self.table.datasets(field)
        test: Callable[[Column], Column]
        if isinstance(node, IsNull):
            any_value = F.coalesce(F.exists(inputs, lambda d: d[field].isNotNull()), F.lit(False))
            return any_value if node.negated else ~any_value
        if isinstance(node, In):
            wanted = [str(v.value) for v in node.values]
            negated = node.negated
            test = (lambda v: ~v.isin(wanted)) if negated else (lambda v: v.isin(wanted))
        elif node.op in (Op.RLIKE, Op.NOT_RLIKE):
            each = F.explode(inputs).alias("input")
            test = self.matching(
                node.key, lambda df: df.select(each).select(F.col("input")[field].alias("value")), node
            )
        elif node.op.is_pattern:
            regex = like_regex(str(node.value.value), node.op in (Op.ILIKE, Op.NOT_ILIKE))
            negated = node.op.is_negated
            test = (lambda v: ~v.rlike(regex)) if negated else (lambda v: v.rlike(regex))
        else:
            compare, operand = _COMPARE[node.op], str(node.value.value)
            test = lambda v: compare(v, F.lit(operand))  # noqa: E731

        def holds(item: Column) -> Column:
            return item[field].isNotNull() & F.coalesce(test(item[field]), F.lit(False))

        return F.coalesce(F.exists(inputs, holds), F.lit(False))

    # -- ordering

    def order(self, sort_keys: Sequence[SortKey]) -> list[Column]:
        parts: list[Column] = []
        for sort_key in sort_keys:
            key = sort_key.key
            if key.entity is Entity.DATASET:
                raise EvaluationError(
                    "runs cannot be ordered by datasets", code="unsupported-order-by", span=sort_key.span
                )
            value = self.table.value(key)
            tier = F.when(value.isNull(), F.lit(TIER_MISSING))
            if key.entity is Entity.METRIC:
                tier = tier.when(F.isnan(value), F.lit(TIER_NAN))
            tier = tier.otherwise(F.lit(TIER_VALUE))
            # Only values are compared: NaN and missing values tie within their tier.
            ranked = F.when(tier == TIER_VALUE, value)
            parts += [
                tier.asc(),
                ranked.desc_nulls_last() if sort_key.descending else ranked.asc_nulls_last(),
            ]
        start = self.table.time("start_time")
        return [*parts, start.isNull().asc(), start.desc_nulls_last(), self.table.column("run_id").asc()]


def _fold(combine: Callable[[Column, Column], Column], columns: list[Column]) -> Column:
    result = columns[0]
    for column in columns[1:]:
        result = combine(result, column)
    return result


def _operand(literal: LiteralNode, number: bool, metric: bool) -> Any:
    """The value a key is compared with: MLflow compares a metric with float(value), run times as
    given (a whole number beyond Spark's longs as a float); strings as they are."""
    value = literal.value
    if not number:
        return str(value)
    if metric or not isinstance(value, int) or value not in _LONG:
        return float(value)
    return value


# -- the API -------------------------------------------------------------------------------------


def _schema(table: DataFrame | T.StructType) -> T.StructType:
    return table if isinstance(table, T.StructType) else table.schema


def compile_query(
    compiled: CompiledQuery, table: DataFrame | T.StructType, layout: str | None = None
) -> SparkQuery:
    """``compiled`` (a run query) as a filter Column and a sort specification over ``table`` (a run
    table, or its schema) in ``layout`` (None: detected from the schema)."""
    if compiled.entity != "runs":
        raise ValueError(
            "runql.engines.spark answers run queries; experiments are few and searched in memory"
        )
    query = compiled.query
    _refuse_histories(query)
    frame = None if isinstance(table, T.StructType) else table
    compiler = _Compiler(_Table(_schema(table), layout), frame, query.filter_string)
    condition = None if query.filter is None else compiler.truth(query.filter)
    return SparkQuery(condition, tuple(compiler.order(query.order_by)))


def _refuse_histories(query: Any) -> None:
    """A run table holds each metric's latest value, not its history: only last() is answered."""
    keys = [c.key for c in clauses(query.filter)] + [s.key for s in query.order_by]
    for key in keys:
        if key.aggregate is not None and key.aggregate is not Aggregate.LAST:
            raise EvaluationError(
                f"a run table holds the latest value of each metric, not its history: "
                f"{key.aggregate.value}() cannot be computed from it",
                code="unsupported-aggregate",
                span=key.function_span or key.span,
                hint="filter by the latest value (metrics.<key>, or last(metrics.<key>)), or search the "
                "runs in a workspace or an MLflow database, which keep the histories",
            )


def _compiled(filter_string: str | None, order_by: OrderBy, profile: Any) -> CompiledQuery:
    compiled = compile_quietly(filter_string, order_by, profile=profile, entity="runs")
    warn_at_caller(compiled.warnings)
    return compiled


def compile_filter(
    table: DataFrame | T.StructType,
    filter_string: str | None = "",
    *,
    profile: Any = "mlflow",
    layout: str | None = None,
) -> Column:
    """The boolean Column that is true for the runs ``filter_string`` selects and false for every
    other run (never null, so ``~`` and ``&`` compose as expected): ``df.where(compile_filter(df, f))``.
    """
    found = compile_query(_compiled(filter_string, None, profile), table, layout).filter
    return F.lit(True) if found is None else F.coalesce(found, F.lit(False))


def compile_order(
    table: DataFrame | T.StructType,
    order_by: OrderBy = None,
    *,
    profile: Any = "mlflow",
    layout: str | None = None,
) -> list[Column]:
    """The sort specification of MLflow's order for ``order_by``: ``df.orderBy(*compile_order(df, o))``."""
    return list(compile_query(_compiled("", order_by, profile), table, layout).order)


def search_runs(
    df: DataFrame,
    filter_string: str | None = "",
    order_by: OrderBy = None,
    max_results: int | None = None,
    *,
    profile: Any = "mlflow",
    layout: str | None = None,
    run_view_type: int | str | ViewType = ViewType.ACTIVE_ONLY,
) -> DataFrame:
    """The runs of ``df`` that ``filter_string`` selects, in MLflow's order for ``order_by``, at most
    ``max_results`` of them (None: all), as a Spark DataFrame with ``df``'s columns.

    The query is checked against ``profile`` (``mlflow``, ``azureml``, ``extended`` or a Profile);
    ``layout`` is ``flat`` or ``map`` (None: detected from the schema). ``run_view_type`` chooses the
    runs by their ``lifecycle_stage`` column, active ones by default as MLflow does; a table without
    that column (``mlflow.search_runs``' frame) is searched whole. Filter ``df`` first to search one
    experiment.
    """
    limit = check_total(max_results)
    stages = ViewType.coerce(run_view_type).stages
    found = compile_query(_compiled(filter_string, order_by, profile), df, layout)
    if "lifecycle_stage" in df.columns:
        df = df.where(F.col("lifecycle_stage").isin(sorted(stages)))
    selected = df if found.filter is None else df.where(found.filter)
    ordered = selected.orderBy(*found.order)
    return ordered if limit is None else ordered.limit(limit)
