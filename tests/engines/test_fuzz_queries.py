"""A fuzz target for parse, check and search: whatever text a caller sends, only runql's errors escape.

The inputs are token soups (keywords, keys, operators, numbers past a float's range, look-alike
letters, Unicode whitespace, unbalanced quotes and parentheses) and valid filters with characters
inserted, deleted or replaced. CI runs it derandomized with the fixed budget below (seconds, not
minutes); ``RUNQL_FUZZ_EXAMPLES`` raises it for a longer hunt.
"""

from __future__ import annotations

import base64
import contextlib
import os
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import runql
from runql.errors import RunqlError
from runql.testing.strategies import filter_strings

EXAMPLES = int(os.environ.get("RUNQL_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

_WORDS = [
    # keywords, some with look-alike letters or in odd case
    "AND",
    "and",
    "OR",
    "NOT",
    "not",
    "IN",
    "NOT IN",
    "IS",
    "NULL",
    "IS NOT NULL",
    "LIKE",
    "ILIKE",
    "NOT LIKE",
    "NOT ILIKE",
    "LI\u212aE",
    "\u0130LIKE",
    "\u0130N",
    "I\u017f",
    "ASC",
    "DESC",
    "DE\u017fC",
    # keys
    "metrics.auc",
    "metrics.`a b`",
    'metrics."x"',
    "params.model",
    "tags.team",
    "attributes.run_id",
    "attributes.start_time",
    "attributes.status",
    "attributes.creation_time",
    "attributes.duration",
    "datasets.name",
    "datasets.context",
    "attribute.run_name",
    "run_name",
    "metric.x.y",
    "foo.bar",
    "tags.`",
    "params.'a'",
    # operators and punctuation
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "==",
    "(",
    ")",
    "((",
    "))",
    ",",
    "'",
    '"',
    "`",
    "\\",
    ";",
    "%",
    "_",
    # values
    "1",
    "-1",
    "0.5",
    "1e400",
    "-1e400",
    "1" + "0" * 400,
    "9007199254740993",
    ".5",
    "1.",
    "1e-5",
    "'x'",
    "'%a%a%a%b'",
    "'%_%_%_#'",
    "'a''b'",
    "'\\''",
    '"x"',
    "'\u212a'",
    "('a', 'b')",
    "(1, 2)",
    "r'a'",
    "u'b'",
    "'a' 'b'",
    "'1655703168000'",
    "'nan'",
    "'Failed'",
]
_SPACES = [" ", " ", " ", "", "\n", "\t", "\u00a0", "\u3000", "\u2028", "\x0b"]

_soup = st.lists(st.tuples(st.sampled_from(_WORDS), st.sampled_from(_SPACES)), min_size=1, max_size=25).map(
    lambda parts: "".join(word + space for word, space in parts)
)


@st.composite
def _mutated(draw: st.DrawFn) -> str:
    text = draw(filter_strings("extended"))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.one_of(st.sampled_from(_WORDS + _SPACES), st.text(max_size=3)))
        if kind == "insert":
            text = text[:at] + piece + text[at:]
        elif kind == "delete":
            text = text[:at] + text[at + len(piece) :]
        else:
            text = text[:at] + piece + text[at + 1 :]
    return text


def _nested(depth: int, inner: str) -> str:
    return "NOT (" * depth + inner + ")" * depth


hostile_texts = st.one_of(
    _soup,
    _mutated(),
    st.text(max_size=40),
    st.builds(_nested, st.integers(90, 130), st.sampled_from(["metrics.auc > 1", "tags.x LIKE '%_%_#'"])),
)


@pytest.fixture(scope="module")
def workspace() -> runql.Workspace:
    return runql.Workspace.sample()


@pytest.fixture(scope="module")
def some_runs(workspace: runql.Workspace) -> list[Any]:
    runs = workspace.search_runs(search_all_experiments=True, output_format="list", max_results=None)
    return list(runs[:40])


def _only_runql_errors(action: Callable[[], object]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.suppress(RunqlError):
            action()


@FUZZ
@given(text=hostile_texts)
def test_parse_and_check_raise_only_runql_errors(text: str) -> None:
    _only_runql_errors(lambda: runql.parse_filter(text))
    _only_runql_errors(lambda: runql.parse_order_by([text]))
    for profile in ("mlflow", "azureml", "extended"):
        for entity in ("runs", "experiments"):
            _only_runql_errors(lambda p=profile, e=entity: runql.check(text, p, e))  # type: ignore[misc]
            _only_runql_errors(lambda p=profile, e=entity: runql.check("", p, e, order_by=[text]))  # type: ignore[misc]


@FUZZ
@given(text=hostile_texts, profile=st.sampled_from(["mlflow", "azureml", "extended"]))
def test_search_raises_only_runql_errors(
    text: str, profile: str, workspace: runql.Workspace, some_runs: list[Any]
) -> None:
    _only_runql_errors(lambda: runql.search(some_runs, text, profile=profile))
    _only_runql_errors(lambda: runql.search(some_runs, order_by=[text], profile=profile))
    _only_runql_errors(
        lambda: workspace.search_runs(
            search_all_experiments=True, filter_string=text, profile=profile, output_format="list"
        )
    )
    _only_runql_errors(lambda: workspace.search_experiments(filter_string=text, profile=profile))
    token = base64.b64encode(text.encode("utf-8", "surrogatepass")).decode("ascii")
    _only_runql_errors(lambda: runql.search(some_runs, page_token=token))
    _only_runql_errors(lambda: runql.search(some_runs, page_token=text))


# -- the SQL stores -----------------------------------------------------------------------------------
# Characters no database stores: a lone surrogate (which json.loads makes of a request body) and NUL
# (which PostgreSQL's text refuses), in keys, values and order_by keys.
_UNSTORABLE_KEYS = ["params.`a\ud800`", "tags.`k\x00`", "metrics.`m\udfff`"]
_UNSTORABLE_VALUES = ["'\ud800'", "'a\x00b'"]
_UNSTORABLE = [*_UNSTORABLE_KEYS, *_UNSTORABLE_VALUES, "\ud800", "\x00"]
sql_texts = st.one_of(
    hostile_texts,
    st.lists(
        st.tuples(st.sampled_from(_WORDS + _UNSTORABLE), st.sampled_from(_SPACES)), min_size=1, max_size=12
    ).map(lambda parts: "".join(word + space for word, space in parts)),
    st.builds(
        lambda key, op, value: f"{key} {op} {value}",
        st.sampled_from(["params.model", "tags.team", "metrics.auc", *_UNSTORABLE_KEYS]),
        st.sampled_from(["=", "!=", "LIKE", "ILIKE", "RLIKE", "IN", "<", ">="]),
        st.sampled_from(["'x'", "0.5", "('a', '\ud800')", *_UNSTORABLE_VALUES]),
    ),
)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def sql_store(request: pytest.FixtureRequest, workspace: runql.Workspace) -> Any:
    """The sample's runs, logged by MLflow into a tracking database, searched in place."""
    from support.mlflow_stores import log_with_mlflow

    url = request.getfixturevalue(
        "new_sqlite_database" if request.param == "sqlite" else "new_postgres_database"
    )(mlflow_schema=True)
    logged = log_with_mlflow(url, workspace.runs[:40], workspace.experiments)
    with runql.connect(url) as store:
        yield store, sorted(set(logged.experiments.values()))


@FUZZ
@given(text=sql_texts, profile=st.sampled_from(["mlflow", "extended"]))
def test_sql_stores_raise_only_runql_errors(text: str, profile: str, sql_store: Any) -> None:
    store, experiment_ids = sql_store
    _only_runql_errors(lambda: store.search_runs_paged(experiment_ids, text, profile=profile))
    _only_runql_errors(lambda: store.search_runs_paged(experiment_ids, order_by=[text], profile=profile))
    _only_runql_errors(lambda: store.search_runs_paged([text], profile=profile))
    _only_runql_errors(lambda: store.search_runs_paged(experiment_ids, page_token=text))
    token = base64.b64encode(text.encode("utf-8", "surrogatepass")).decode("ascii")
    _only_runql_errors(lambda: store.search_runs_paged(experiment_ids, page_token=token))
    _only_runql_errors(lambda: store.search_experiments(filter_string=text, profile=profile))
