"""What a hostile query must not do to a tracking database searched in SQL: crash SQLite, fill a
PostgreSQL server's memory, make it match for a minute, or surface a driver's error. Each case is answered
as the reference evaluator answers it over the same runs read back whole, on SQLite and PostgreSQL; SQLite
runs in a subprocess where it could crash the interpreter.
"""

from __future__ import annotations

import base64
import json
import math
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from support.mlflow_stores import log_with_mlflow

import runql
from runql import Compare, Entity, In, Key, Literal, Op
from runql.engines import semantics
from runql.engines.aggregates import history_value
from runql.engines.sql import runs_select
from runql.errors import ArgumentError, EvaluationError
from runql.language.ast import Aggregate, Expr
from runql.model.entities import Run
from runql.stores.sql import SqlStore

BACKENDS = ("sqlite", "postgresql")


@dataclass
class Database:
    backend: str
    url: str
    store: SqlStore
    experiment: str
    runs: list[Run]  # the runs read back whole: the reference searches these

    def expected(self, query: str | Expr, order_by: Sequence[str] = ()) -> list[str]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a repeated order_by key is warned of
            compiled = runql.compile(query, list(order_by) or None, profile="extended")
        return _ids(compiled.search(self.runs)[0])

    def found(self, query: str | Expr, order_by: Sequence[str] = ()) -> list[str]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            page, _ = self.store.search_runs_paged(
                [self.experiment],
                query,
                order_by=list(order_by) or None,
                max_results=1000,
                profile="extended",
            )
        return _ids(page)


def _ids(runs: Sequence[Any]) -> list[str]:
    return [r.info.run_id for r in runs]


def _database(
    request: pytest.FixtureRequest, records: list[dict[str, Any]], backend: str | None = None
) -> Iterator[Database]:
    backend = backend or request.param
    make = request.getfixturevalue("new_sqlite_database" if backend == "sqlite" else "new_postgres_database")
    url = make(mlflow_schema=True)
    records = [{"user_id": "u", "experiment_id": "b", **record} for record in records]
    written = log_with_mlflow(url, records, [{"experiment_id": "b", "name": "bounds"}])
    experiment = written.experiments["b"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Every point read now: the reference must not ask the database for a key it cannot be sent.
        runs = [
            r for r in runql.from_mlflow_db(url, histories=True).runs if r.info.experiment_id == experiment
        ]
    store = runql.connect(url)
    yield Database(backend, url, store, experiment, runs)
    store.close()


# -- order_by: a bounded number of joins, repeated keys dropped ------------------------------------------

RUNS = 12


def _sort_keys() -> list[str]:
    """100 distinct order_by clauses: metrics, params and tags interleaved, and functions of histories."""
    keys = ["max(metrics.h0)", "first(metrics.h1) DESC"]
    for k in range(30):
        keys += [f"metrics.m{k}", f"params.p{k} DESC", f"tags.t{k}"]
    functions = ["avg", "min", "count", "last", "max", "first", "avg", "min"]
    keys += [f"{f}(metrics.h{k + 2})" + (" DESC" if k % 2 else "") for k, f in enumerate(functions)]
    assert len(set(keys)) == 100
    return keys


def _sorted_records() -> list[dict[str, Any]]:
    """Runs that every key of :func:`_sort_keys` orders alike, but for one run it lacks (pushed last) and,
    past the 64th key, one whose metric is NaN: key ``i`` singles out run ``i // 8``, so the keys past the
    first 30, 63 or 64 still decide where a run goes."""
    records: list[dict[str, Any]] = [
        {"run_id": f"r{j}", "start_time": 1000 * (RUNS - j), "metrics": {}, "params": {}} for j in range(RUNS)
    ]
    for j, record in enumerate(records):
        record["tags"] = {"mlflow.runName": f"r{j}"}
    for index, clause in enumerate(_sort_keys()):
        name = clause.split()[0]
        missing, nan = (index // 8) % RUNS, (index // 8 - 2) % RUNS if index >= 64 else None
        for j, record in enumerate(records):
            if j == missing:
                continue
            if name.startswith("params."):
                record["params"][name.removeprefix("params.")] = "x"
            elif name.startswith("tags."):
                record["tags"][name.removeprefix("tags.")] = "y"
            else:
                metric = name.split("metrics.")[1].rstrip(")")
                value = math.nan if j == nan else 1.0
                record["metrics"][metric] = [
                    {"value": value, "step": 0, "timestamp": 1},
                    {"value": value, "step": 1, "timestamp": 2},
                ]
    return records


@pytest.fixture(scope="module", params=BACKENDS)
def sorted_database(request: pytest.FixtureRequest) -> Iterator[Database]:
    yield from _database(request, _sorted_records())


def _reversed(clause: str) -> str:
    return clause.removesuffix(" DESC") if clause.endswith(" DESC") else f"{clause} DESC"


ORDERINGS = {
    **{f"{n} distinct keys": _sort_keys()[:n] for n in (31, 63, 64, 100)},
    **{f"a tag {n} times": ["tags.t0"] * n for n in (31, 63, 64, 100)},
    "max() of a history 100 times": ["max(metrics.h0)"] * 100,
    "50 keys twice, the second time reversed": _sort_keys()[:50] + [_reversed(k) for k in _sort_keys()[:50]],
}


# The searches run in a child process: a statement that crashes SQLite takes the interpreter with it.
_CHILD = """
import json, sys, warnings
import runql
warnings.simplefilter("ignore")
url, experiment, orderings = json.load(sys.stdin)
store = runql.connect(url)
found = []
for order_by in orderings:
    page, _ = store.search_runs_paged(
        [experiment], "", order_by=order_by, max_results=1000, profile="extended"
    )
    found.append([r.info.run_id for r in page])
print(json.dumps(found))
"""


def _search_in_a_child(database: Database, orderings: list[list[str]]) -> list[list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD],
        input=json.dumps([database.url, database.experiment, orderings]),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"the search died ({done.returncode}): {done.stderr[-2000:]}"
    found: list[list[str]] = json.loads(done.stdout)
    return found


def test_many_and_repeated_order_by_keys_answer_as_the_reference(sorted_database: Database) -> None:
    orderings = list(ORDERINGS.values())
    if sorted_database.backend == "sqlite":
        found = _search_in_a_child(sorted_database, orderings)
    else:
        found = [sorted_database.found("", order_by) for order_by in orderings]
    for name, order_by, answer in zip(ORDERINGS, orderings, found, strict=True):
        expected = sorted_database.expected("", order_by)
        assert len(expected) == RUNS
        assert answer == expected, name


def test_the_last_keys_decide_the_order(sorted_database: Database) -> None:
    # Run 11 lacks only keys 88 to 95: what the cases above compare depends on the keys past 64.
    assert sorted_database.expected("", _sort_keys()) != sorted_database.expected("", _sort_keys()[:64])


def test_many_keys_are_read_without_a_join(sorted_database: Database) -> None:
    # SQLite 3.40 crashes on a join whose ORDER BY has 64 terms; 8 keys are joined, 9 are looked up.
    for count, joins in ((8, 8), (9, 0), (100, 0)):
        compiled = runql.compile("", _sort_keys()[2 : 2 + count], profile="extended")
        statement = runs_select(
            compiled,
            sorted_database.store.tables,
            sorted_database.store.dialect,
            experiment_ids=[int(sorted_database.experiment)],
            lifecycle_stages=["active"],
        )
        assert str(statement).count("LEFT OUTER JOIN") == joins


def test_a_repeated_key_is_ordered_by_once(sorted_database: Database) -> None:
    def statement(order_by: list[str]) -> str:
        compiled = runql.compile("", order_by, profile="extended")
        tables, dialect = sorted_database.store.tables, sorted_database.store.dialect
        ids = [int(sorted_database.experiment)]
        return str(runs_select(compiled, tables, dialect, experiment_ids=ids, lifecycle_stages=["active"]))

    once = statement(["max(metrics.h0)"])
    with pytest.warns(runql.QueryWarning, match="duplicate-order-by"):
        repeated = statement(["max(metrics.h0)", "max(metrics.h0) DESC"] * 50)
    assert once == repeated


# -- RLIKE on PostgreSQL: values read once per key, the smaller list sent, within a bound ----------------


def _pattern_records() -> list[dict[str, Any]]:
    return [
        {
            "run_id": f"v{j}",
            "experiment_id": "b",
            "start_time": j,
            "params": {"p": f"value-{j:02d}", "q": f"other-{j % 3}"},
            "tags": {
                "mlflow.runName": f"v{j}",
                "note": [
                    "",
                    "a",
                    "ab",
                    "a\n",
                    "a\nb",
                    "ab\n",
                    "\n",
                    "a\n\n",
                    "b\na\n",
                    "a\\b",
                    "a%b",
                    "a_b",
                    "ba",
                    "aab\nb\n",
                    "\na",
                    "A",
                    "aB",
                    "#" * 3,
                    "a" * 5000,
                    "ab" * 2500,
                ][j % 20],
                "long": "a" * (3000 + 40 * j) + ("#" if j % 2 else "") + "b" * 40,
            },
        }
        for j in range(40)
    ]


@pytest.fixture(scope="module", params=BACKENDS)
def pattern_database(request: pytest.FixtureRequest) -> Iterator[Database]:
    yield from _database(request, _pattern_records())


@pytest.fixture(scope="module")
def postgres_patterns(request: pytest.FixtureRequest) -> Iterator[Database]:
    yield from _database(request, _pattern_records(), "postgresql")


def _statement(database: Database, text: str, read: Callable[[sa.Select[Any]], list[str]]) -> sa.Select[Any]:
    return runs_select(
        runql.compile(text, profile="extended"),
        database.store.tables,
        database.store.dialect,
        experiment_ids=[int(database.experiment)],
        lifecycle_stages=["active"],
        distinct_values=read,
    )


def _reader(database: Database, reads: list[str]) -> Callable[[sa.Select[Any]], list[str]]:
    def read(candidates: sa.Select[Any]) -> list[str]:
        reads.append(str(candidates))
        with database.store.engine.connect() as connection:
            return list(connection.execute(candidates).scalars())

    return read


def test_rlike_reads_a_keys_values_once_per_statement(postgres_patterns: Database) -> None:
    reads: list[str] = []
    text = " OR ".join(f"params.p RLIKE '{i}$'" for i in range(10)) + " OR params.q RLIKE '1'"
    _statement(postgres_patterns, text, _reader(postgres_patterns, reads))
    assert len(reads) == 2  # p once for its ten clauses, q once
    assert postgres_patterns.found(text) == postgres_patterns.expected(text)


def test_rlike_sends_the_fewer_of_the_matching_and_the_other_values(postgres_patterns: Database) -> None:
    for text, sent in (("params.p RLIKE '-0[0-4]'", 5), ("params.p RLIKE '-(?:[1-3]|0[0-4])'", 5)):
        statement = _statement(postgres_patterns, text, _reader(postgres_patterns, []))
        arrays = [v for v in statement.compile().params.values() if isinstance(v, list) and v]
        assert [len(v) for v in arrays if all(str(x).startswith("value-") for x in v)] == [sent], text
        for negated in (text, text.replace("RLIKE", "NOT RLIKE"), f"NOT {text}"):
            assert postgres_patterns.found(negated) == postgres_patterns.expected(negated), negated


def test_what_a_query_may_send_is_bounded(
    postgres_patterns: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(semantics, "MAX_SENT_VALUES", 25)
    assert postgres_patterns.found("params.p RLIKE '[0-4]$'") == postgres_patterns.expected(
        "params.p RLIKE '[0-4]$'"
    )  # 20 values
    text = "params.p RLIKE '[0-4]$' OR params.p RLIKE '[5-9]$'"  # 20 and 20 values
    with pytest.raises(EvaluationError) as caught:
        postgres_patterns.found(text)
    assert caught.value.code == "too-many-values"
    assert caught.value.span is not None and text[caught.value.span.start :].startswith("params.p RLIKE '[5")


# -- LIKE on PostgreSQL: the database's LIKE, line by line ----------------------------------------------

LIKE_PATTERNS = [
    "a",
    "a%",
    "%a",
    "%a%",
    "_",
    "__",
    "%_",
    "_%",
    "a_",
    "a\n",
    "a\n%",
    "%\n%",
    "a\nb",
    "\n",
    "",
    "%",
    "%%",
    "%_%_%",
    "a\\b",
    "a\\%",
    "a%b",
    "a_b",
    "%b\na%",
    "b\na",
    "b\na\n",
    "%\na",
    "A",
    "a%\n",
    "%#%",
    "%" + "_" * 3000 + "#%",
    "%" + "_" * 3000 + "b%",
    "%_" * 40000,
    "%_" * 2000,
    "%a" * 20000,
    "%a" * 1200 + "%",
    "a\n" * 20 + "%",
    "%\n" * 20,
]


def test_like_answers_as_the_reference(pattern_database: Database) -> None:
    statements: list[str] = []
    sa.event.listen(
        pattern_database.store.engine, "before_cursor_execute", lambda *a: statements.append(a[2])
    )
    for key in ("note", "long"):
        for pattern in LIKE_PATTERNS:
            for op in (Op.LIKE, Op.ILIKE, Op.NOT_LIKE):
                tree = Compare(Key(Entity.TAG, key), op, Literal(pattern))
                assert pattern_database.found(tree) == pattern_database.expected(tree), (
                    key,
                    op,
                    pattern[:40],
                )
    # No regular expression of the database's: its engine is quadratic on `%` and long runs of `_`.
    assert not [s for s in statements if "~" in s or "REGEXP" in s.upper()]


# -- strings no database stores: lone surrogates, NUL on PostgreSQL ---------------------------------------


def _text_records() -> list[dict[str, Any]]:
    values = ["a", "b", "x\ud7ffz", "\ud7ff", "\ue000", "x", "xa", "x\ue000", "\x01"]
    return [
        {"run_id": f"s{j}", "start_time": j, "params": {"a": v}, "tags": {"k": "x", "mlflow.runName": v}}
        for j, v in enumerate(values)
    ] + [{"run_id": "none", "start_time": 99, "tags": {"k": "y", "mlflow.runName": "n"}}]


@pytest.fixture(scope="module", params=BACKENDS)
def text_database(request: pytest.FixtureRequest) -> Iterator[Database]:
    yield from _database(request, _text_records())


SURROGATE, NUL = "\ud800", "\x00"


@pytest.mark.parametrize("odd", [SURROGATE, NUL], ids=["surrogate", "nul"])
def test_a_character_no_database_stores_is_compared_as_what_it_means(
    text_database: Database, odd: str
) -> None:
    texts = (odd, f"x{odd}", f"x{odd}a", f"%{odd}%", f"\ud7ff{odd}")
    filters: list[str | Expr] = [
        f"attributes.run_name {op} '{text}'"
        for op in ("=", "!=", "LIKE", "NOT LIKE", "ILIKE")
        for text in texts
    ]
    filters += [f"params.a {op} '{text}'" for op in ("=", "!=", "LIKE", "NOT ILIKE") for text in texts]
    # Built as trees: the parser refuses such a character in a list item (bad-list).
    filters += [In(Key(Entity.PARAM, "a"), (Literal(odd), Literal("a")), negated=n) for n in (False, True)]
    filters += [
        f"params.`{odd}` = 'x'",
        f"params.`{odd}` != 'x'",
        f"params.`{odd}` IS NULL",
        f"params.`{odd}` IS NOT NULL",
        f"tags.`k{odd}` RLIKE 'x'",
        f"params.a RLIKE 'a|{odd}'",
        f"params.a NOT RLIKE 'x|{odd}'",
        f"metrics.`{odd}` > 0",
        f"max(metrics.`{odd}`) > 0",
    ]
    for text in filters:
        assert text_database.found(text) == text_database.expected(text), repr(text)
    for order_by in (
        [f"params.`{odd}`", "params.a DESC"],
        [f"metrics.`{odd}` DESC", f"max(metrics.`{odd}`)"],
    ):
        assert text_database.found("", order_by) == text_database.expected("", order_by), order_by


# -- page tokens ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [2**63, 1e300, 10**400])
def test_a_page_token_beyond_a_bigint_is_refused(text_database: Database, offset: float) -> None:
    token = base64.b64encode(json.dumps({"offset": offset}).encode()).decode()
    with pytest.raises(ArgumentError) as caught:
        text_database.store.search_runs_paged([text_database.experiment], "", page_token=token)
    assert caught.value.code == "bad-page-token"


# -- avg() of histories holding MLflow's stored infinity -----------------------------------------------------

LARGEST = sys.float_info.max
HISTORIES = {
    "twice": [math.inf, math.inf],
    "thrice": [math.inf, math.inf, math.inf],
    "both": [math.inf, -math.inf],
    "below": [-math.inf, -math.inf, 1.0],
    "one": [math.inf, 1.0],
    "tiny": [5e-324, 1e-300, 3e-310],
    "mixed": [1e-300, LARGEST, 1.0],
    "plain": [1.0, 2.0, 4.0],
}


def _history_records() -> list[dict[str, Any]]:
    return [
        {
            "run_id": name,
            "start_time": index,
            "tags": {"mlflow.runName": name},
            "metrics": {"x": [{"value": v, "step": s, "timestamp": s} for s, v in enumerate(values)]},
        }
        for index, (name, values) in enumerate(HISTORIES.items())
    ]


@pytest.fixture(scope="module", params=BACKENDS)
def history_database(request: pytest.FixtureRequest) -> Iterator[Database]:
    yield from _database(request, _history_records())


def test_avg_over_the_largest_floats_never_overflows(history_database: Database) -> None:
    names = {run.info.run_id: run.info.run_name for run in history_database.runs}
    means = {
        run.info.run_name: history_value(
            run.data.history("x"), Key(Entity.METRIC, "x", aggregate=Aggregate.AVG)
        )
        for run in history_database.runs
    }
    assert means["twice"] == LARGEST and means["below"] < -LARGEST / 2
    for order_by in (["avg(metrics.x)"], ["avg(metrics.x) DESC"]):
        # "thrice" and "twice" may tie in one engine and not in another: their means differ in the last digit.
        found, expected = (
            [names[i] for i in ids if names[i] != "thrice"]
            for ids in (history_database.found("", order_by), history_database.expected("", order_by))
        )
        assert found == expected
    for name, mean in means.items():
        assert mean is not None
        # The engines may round a mean apart in its last digit (docs/syntax.md): a window of a few ulps.
        low, high = mean - 4 * math.ulp(mean), mean + 4 * math.ulp(mean)
        bounds = [repr(b).replace("e+", "e") for b in (low, min(high, LARGEST))]  # no '+' in an exponent
        text = f"avg(metrics.x) >= {bounds[0]} AND avg(metrics.x) <= {bounds[1]}"
        assert name in [names[i] for i in history_database.found(text)], (name, mean)
