"""The checks of a row of MLflow's tracking database: what each value must be to become part of a run.

A database may come from anyone, and its tables hold what was put in them, whatever MLflow's schema says:
SQLite keeps text in an integer column and any bytes in a text column, and a constraint dropped lets NULL
in anywhere. A reader checks every value it takes into a record, so that nothing that would break a search
later (text as a metric value, a time beyond what a DataFrame holds) becomes part of a run. The rules are
those of the other readers of stores (docs/security.md): a time is milliseconds within 2**53, a status and
a lifecycle stage are MLflow's.

Each check returns the value as a record holds it, or raises ``ValueError`` naming the column and the
value; :func:`bad_row` turns that into the :class:`~runql.StoreError` (``corrupt-store``) that names the
store, the table and the row. :func:`undecodable` finds the value that is not UTF-8 among rows read again
as bytes, once reading them as text failed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from runql.common.redact import shown, shown_value
from runql.errors import StoreError
from runql.model.entities import LifecycleStage, Metric, RunStatus
from runql.model.records import TIME_LIMIT

__all__ = [
    "LIFECYCLE_STAGES",
    "RUN_COLUMNS",
    "Reflected",
    "bad_row",
    "experiment_id",
    "flag",
    "integer",
    "metric_point",
    "number",
    "one_of",
    "optional_text",
    "reflect",
    "row_place",
    "run_id",
    "run_status",
    "text",
    "time_ms",
    "undecodable",
]

LIFECYCLE_STAGES = (LifecycleStage.ACTIVE, LifecycleStage.DELETED)

# The columns of MLflow's ``runs`` table both readers read, in the order they unpack them.
RUN_COLUMNS = (
    "run_uuid",
    "experiment_id",
    "name",
    "user_id",
    "status",
    "start_time",
    "end_time",
    "artifact_uri",
    "lifecycle_stage",
)


def row_place(where: str, table: str, row_id: object, noun: str = "run") -> str:
    """Where a row is, for a message: the store ``where``, the table, and the row by the id it holds
    (``noun`` says what the id names: a run, an experiment, an input, a dataset)."""
    named = row_id if isinstance(row_id, str) else repr(row_id)
    return f"{where}, table {table}, {noun} {shown(named, 80)}"


def bad_row(where: str, table: str, row_id: object, error: ValueError, noun: str = "run") -> StoreError:
    """The error for a row of ``table`` whose check raised ``error``."""
    return StoreError(str(error), where=row_place(where, table, row_id, noun), code="corrupt-store")


def run_id(value: object, column: str = "run_uuid") -> str:
    """A run's id: text, never empty."""
    if type(value) is not str or not value:
        raise ValueError(f"{column} must be a run id (text), not {shown_value(value)}")
    return value


def text(value: object, column: str) -> str:
    """A column that must hold text (a key, a name, a param's value): never NULL."""
    if type(value) is not str:
        raise ValueError(f"{column} must be text, not {shown_value(value)}")
    return value


def optional_text(value: object, column: str) -> str | None:
    """A column of text that may be NULL."""
    if value is None or type(value) is str:
        return value
    raise ValueError(f"{column} must be text, not {shown_value(value)}")


def number(value: object, column: str) -> float:
    """A metric's value: a number (SQLite may hold text or bytes in the column, and NULL is no number)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{column} must be a number, not {shown_value(value)}")
    return float(value)


def integer(value: object, column: str) -> int:
    """A BIGINT column: an integer."""
    if type(value) is not int:
        raise ValueError(f"{column} must be an integer, not {shown_value(value)}")
    return value


def flag(value: object, column: str) -> bool:
    """A boolean column: SQLite holds 0 or 1, PostgreSQL and MySQL a bool."""
    if value == 0:
        return False
    if value == 1:
        return True
    raise ValueError(f"{column} must be a boolean (0 or 1), not {shown_value(value)}")


def time_ms(value: object, column: str) -> int | None:
    """A run's or an experiment's time: milliseconds since the epoch, or NULL; within what a DataFrame and
    the column store hold exactly (2**53 milliseconds), as the other readers require."""
    if value is None:
        return None
    if type(value) is not int:
        raise ValueError(
            f"{column} must be milliseconds since the epoch (an integer), not {shown_value(value)}"
        )
    if not -TIME_LIMIT <= value < TIME_LIMIT:
        raise ValueError(f"{column} must be between -{TIME_LIMIT} and {TIME_LIMIT}, not {value}")
    return value


def experiment_id(value: object, column: str = "experiment_id") -> str:
    """An experiment's id as a record holds it: an integer in MLflow's schema, text in older ones."""
    if isinstance(value, bool) or not isinstance(value, (int, str)) or value == "":
        raise ValueError(f"{column} must be an integer or text, not {shown_value(value)}")
    return str(value)


def one_of(value: object, allowed: Sequence[str], default: str, column: str) -> str:
    """A column holding one of ``allowed``; NULL or empty is ``default``."""
    if value is None or value == "":
        return default
    if type(value) is not str or value not in allowed:
        raise ValueError(f"{column} must be one of {', '.join(allowed)}, not {shown_value(value)}")
    return value


def run_status(value: object, end_time: int | None) -> str:
    """A run's status; NULL is FINISHED for a run that ended and RUNNING for one that did not."""
    default = RunStatus.FINISHED if end_time is not None else RunStatus.RUNNING
    return one_of(value, RunStatus.ALL, default, "status")


def metric_point(key: str, value: object, timestamp: object, step: object, is_nan: object) -> Metric:
    """A row of ``metrics`` as a point. MLflow stores NaN as ``is_nan`` (the value then means nothing) and
    an infinity as the largest float; a step of NULL, from old schemas, is 0."""
    nan = flag(is_nan, "is_nan")
    found = math.nan if nan else number(value, "value")
    steps = 0 if step is None else integer(step, "step")
    return Metric(key, found, integer(timestamp, "timestamp"), steps)


def undecodable(rows: Iterable[Sequence[bytes | memoryview | None]]) -> tuple[str, int, str] | None:
    """The first value that is not UTF-8 among ``rows`` read as bytes (each column cast to a blob): the
    row's id (its first value, decoded with escapes), the value's index among the values after the id,
    and what is wrong with it; None when every value decodes."""
    for row_id, *raws in rows:
        for index, raw in enumerate(raws):
            try:
                bytes(raw or b"").decode("utf-8")
            except UnicodeDecodeError as error:
                shown_id = bytes(row_id or b"").decode("utf-8", "backslashreplace")
                return shown_id, index, f"{error.reason} at byte {error.start}"
    return None


Reflected = Mapping[str, Any]
"""Tables of a database as SQLAlchemy reflected them, by name: those of the names asked for that exist."""


def reflect(sa: Any, connection: Any, names: Sequence[str]) -> Reflected:
    """The tables of ``names`` the database ``connection`` reaches holds, reflected (their columns read
    from the database, as a database of an older MLflow may lack some)."""
    present = set(sa.inspect(connection).get_table_names())
    return {
        name: sa.Table(name, sa.MetaData(), autoload_with=connection) for name in names if name in present
    }
