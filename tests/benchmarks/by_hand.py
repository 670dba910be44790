"""The standard workload's questions written by hand in DuckDB and in polars, as a power user would.

Each question's filter and MLflow's order (an order_by key's values, then its NaN, then runs without it;
then start_time DESC, run_id ASC) are spelled out over one wide table of the runs: a column per attribute,
metric, param and tag the questions name. A NaN is compared as MLflow compares it (it passes no ``>`` or
``>=``), which DuckDB's and polars' own orderings of NaN do not give without saying so. ``bench_search.py
--by-hand`` times these beside runql and checks that each returns runql's run ids. Needs ``duckdb`` and
``polars``, which are not runql's dependencies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

# The columns the questions read: (column, part of the record, key).
COLUMNS = [
    ("run_id", None, "run_id"),
    ("start_time", None, "start_time"),
    ("status", None, "status"),
    ("lifecycle_stage", None, "lifecycle_stage"),
    ("auc", "metrics", "auc"),
    ("f1", "metrics", "f1-score"),
    ("model", "params", "model"),
    ("framework", "tags", "framework"),
    ("team", "tags", "team"),
]

# name -> (DuckDB condition, polars condition built from the module and the ids of the IN list)
_SQL: dict[str, str] = {
    "metric comparison": "auc > 0.8 AND NOT isnan(auc)",
    "param equality": "model = 'xgb'",
    "tag LIKE": "framework LIKE 'tor%'",
    "ILIKE": "team ILIKE '%NLP%'",
    "status": "status = 'FAILED'",
    "run_id IN list": "run_id IN (?, ?, ?)",
    "four-clause AND": (
        "auc > 0.5 AND NOT isnan(auc) AND model = 'xgb' AND framework = 'torch' AND status = 'FINISHED'"
    ),
    "backtick-quoted key": "f1 >= 0.9 AND NOT isnan(f1)",
}


def _polars_conditions(pl: Any, ids: Sequence[str]) -> dict[str, Any]:
    def above(column: str, bound: float, strict: bool = True) -> Any:
        value = pl.col(column)
        return (value > bound if strict else value >= bound) & ~value.is_nan()

    return {
        "metric comparison": above("auc", 0.8),
        "param equality": pl.col("model") == "xgb",
        "tag LIKE": pl.col("framework").str.starts_with("tor"),
        "ILIKE": pl.col("team").str.to_lowercase().str.contains("nlp", literal=True),
        "status": pl.col("status") == "FAILED",
        "run_id IN list": pl.col("run_id").is_in(list(ids)),
        "four-clause AND": above("auc", 0.5)
        & (pl.col("model") == "xgb")
        & (pl.col("framework") == "torch")
        & (pl.col("status") == "FINISHED"),
        "backtick-quoted key": above("f1", 0.9, strict=False),
    }


def table(records: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
    """The runs as one wide table: a list per column, None where a run lacks the key."""
    columns: dict[str, list[Any]] = {name: [] for name, _, _ in COLUMNS}
    for record in records:
        for name, part, key in COLUMNS:
            columns[name].append(record[key] if part is None else record[part].get(key))
    return columns


class ByHand:
    """The same table in DuckDB and in polars, and each question as a function of the page size."""

    def __init__(self, records: Sequence[dict[str, Any]], ids: Sequence[str]) -> None:
        import duckdb
        import polars as pl

        self.pl = pl
        self.ids = list(ids)
        self.frame = pl.DataFrame(table(records), schema_overrides={"auc": pl.Float64, "f1": pl.Float64})
        self.duckdb = duckdb.connect()
        self.duckdb.register("runs_frame", self.frame.to_arrow())
        self.duckdb.execute("CREATE TABLE runs AS SELECT * FROM runs_frame")
        self.polars_conditions = _polars_conditions(pl, self.ids)

    def duckdb_page(self, name: str, ordered: bool, page: int) -> Callable[[], list[str]]:
        """The question in DuckDB: its run ids, the first ``page`` in MLflow's order."""
        order = "start_time DESC, run_id"
        if ordered:
            tier = "CASE WHEN auc IS NULL THEN 2 WHEN isnan(auc) THEN 1 ELSE 0 END"
            order = f"{tier}, auc DESC, {order}"
        statement = (
            f"SELECT run_id FROM runs WHERE lifecycle_stage = 'active' AND ({_SQL[name]}) "
            f"ORDER BY {order} LIMIT {page}"
        )
        parameters = self.ids if "?" in _SQL[name] else []
        return lambda: [row[0] for row in self.duckdb.execute(statement, parameters).fetchall()]

    def polars_page(self, name: str, ordered: bool, page: int) -> Callable[[], list[str]]:
        """The question in polars: its run ids, the first ``page`` in MLflow's order."""
        pl = self.pl
        keys: list[Any] = [pl.col("start_time"), pl.col("run_id")]
        descending = [True, False]
        if ordered:
            auc = pl.col("auc")
            tier = (
                pl.when(auc.is_null())
                .then(pl.lit(2, dtype=pl.Int8))
                .when(auc.is_nan())
                .then(pl.lit(1, dtype=pl.Int8))
                .otherwise(pl.lit(0, dtype=pl.Int8))
            )
            keys = [tier, auc, *keys]
            descending = [False, True, *descending]
        condition = (pl.col("lifecycle_stage") == "active") & self.polars_conditions[name]
        lazy = (
            self.frame.lazy()
            .filter(condition)
            .sort(keys, descending=descending, nulls_last=True)
            .head(page)
            .select("run_id")
        )
        return lambda: lazy.collect()["run_id"].to_list()
